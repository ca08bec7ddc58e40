"""The production profile started for tests and benchmarks: N Rasa servers, M action
servers, nginx and the event consumer, from the files :mod:`bot.runtime.cluster` writes for
``make run-cluster``, with each process under the harness's control (kill one, restart
one, roll a new model one server at a time).  With a :class:`testing.netns.Network` each
Rasa and action server runs in a network namespace of its own, as its own host.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from bot.config import PROJECT_ROOT
from bot.runtime.cluster import MODEL_NAME, Layout, rasa_env, write_cluster
from bot.runtime.endpoints import Services
from testing.netns import Network
from testing.services import ensure_debian_package, wait_until
from testing.stack import ACTION_SERVER, RASA_SERVER, free_port, wait_http


def free_layout(workdir: Path, rasa_servers: int, action_servers: int,
                models_dir: Path) -> Layout:
    """A :class:`Layout` on free ports (not consecutive: other programs use ports too)."""
    base = Layout.plan(workdir, rasa_servers, action_servers, models_dir=models_dir)
    return replace(base, rasa_ports=tuple(free_port() for _ in range(rasa_servers)),
                   action_ports=tuple(free_port() for _ in range(action_servers)),
                   public_port=free_port(), internal_port=free_port())


@dataclass
class Cluster:
    """A running cluster (see the module docstring); :meth:`close` stops everything."""

    workdir: Path
    model: Path
    env: dict[str, str]
    """Environment of every process: ``DATABASE_URL`` (PostgreSQL), ``REDIS_URL``,
    ``RABBITMQ_URL``, ``TOUCHLINE_EVENT_QUEUE`` and the stack's settings."""
    rasa_servers: int = 2
    action_servers: int = 1
    pool: int = 4
    token: str = "cluster-token"
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    layout: Layout | None = None
    network: Network | None = None
    """Hosts for the servers (``None``: every process on 127.0.0.1); the services in
    :attr:`env` must then listen on its gateway address."""

    @property
    def url(self) -> str:
        """nginx's public URL."""
        assert self.layout is not None
        return f"http://127.0.0.1:{self.layout.public_port}"

    @property
    def rasa_port(self) -> int:
        """nginx's public port (what a widget tab connects to, :class:`testing.sio_client.Tab`)."""
        assert self.layout is not None
        return self.layout.public_port

    def server_url(self, i: int) -> str:
        """Rasa server ``i``'s own URL (its HTTP API, which nginx does not expose)."""
        assert self.layout is not None
        return f"http://{self.layout.rasa_host(i)}:{self.layout.rasa_ports[i]}"

    def log(self, name: str) -> Path:
        """Log file of process ``name``."""
        return self.workdir / f"{name}.log"

    def _spawn(self, name: str, args: list[str], host: str | None = None,
               **env: str) -> subprocess.Popen:
        if host is not None and self.network is not None:
            args = self.network.command(host, args)
        with self.log(name).open("a") as log:
            proc = subprocess.Popen(args, cwd=PROJECT_ROOT, env={**self.env, **env},
                                    stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs[name] = proc
        return proc

    def start(self) -> Cluster:
        """Write the files, then start nginx, the action servers, the consumer and the Rasa
        servers (in parallel), and wait until every one answers; on failure, stop what
        was started.

        Raises:
            RuntimeError: a process exited or did not come up (with its log's tail).
        """
        try:
            return self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> Cluster:
        # One signing key for every server, as make run-cluster's var/secrets.env gives
        # them: else a widget session resumed on another server after a restart is refused
        # and starts afresh (bench/cluster.py counted such turns as stored but not sent).
        self.env.setdefault("TOUCHLINE_SESSION_SECRET", secrets.token_hex(32))
        models = self.workdir / "models"
        models.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.model, models / MODEL_NAME)
        self.layout = free_layout(self.workdir, self.rasa_servers, self.action_servers, models)
        if self.network is not None:
            self.layout = replace(
                self.layout, internal_host=self.network.gateway,
                rasa_hosts=tuple(self.network.add_host(f"rasa{i}")
                                 for i in range(self.rasa_servers)),
                action_hosts=tuple(self.network.add_host(f"actions{i}")
                                   for i in range(self.action_servers)))
        services = Services(tracker_url=self.env["DATABASE_URL"],
                            redis_url=self.env["REDIS_URL"],
                            rabbitmq_url=self.env["RABBITMQ_URL"],
                            event_queue=self.env["TOUCHLINE_EVENT_QUEUE"],
                            model_url=self.layout.model_url)
        write_cluster(self.layout, services, self.pool)
        nginx = ensure_debian_package("nginx", "nginx")
        self._spawn("nginx", [nginx, "-p", str(self.workdir), "-c",
                              str(self.workdir / "nginx.conf"), "-e", "stderr"])
        wait_until(lambda: _answers(self.layout.model_url), "nginx", 20)
        for i, port in enumerate(self.layout.action_ports):
            host = self.layout.action_host(i)
            proc = self._spawn(f"actions{i}", [*ACTION_SERVER, "--port", str(port)],
                               f"actions{i}", SANIC_HOST=host)
            wait_http(f"http://{host}:{port}/health", proc, self.log(f"actions{i}"))
        self._spawn("consumer", [sys.executable, "-m", "bot.runtime.event_consumer"])
        for i in range(self.rasa_servers):
            self.spawn_rasa(i)
        for i in range(self.rasa_servers):
            self.wait_rasa(i)
        return self

    def spawn_rasa(self, i: int) -> None:
        """Start Rasa server ``i`` (it loads the model from the model server)."""
        assert self.layout is not None
        args = ["run", "--enable-api", "--auth-token", self.token, "--interface",
                self.layout.rasa_host(i), "--port", str(self.layout.rasa_ports[i]),
                "--credentials", "credentials.yml",
                "--endpoints", str(self.workdir / "endpoints.yml")]
        self._spawn(f"rasa{i}", [*RASA_SERVER, *args], f"rasa{i}", **rasa_env(self.pool))

    def wait_rasa(self, i: int, timeout: float = 300) -> None:
        """Wait until Rasa server ``i`` answers with a model loaded."""
        proc = self.procs[f"rasa{i}"]
        wait_http(f"{self.server_url(i)}/status?token={self.token}", proc,
                  self.log(f"rasa{i}"), timeout)

    def freeze(self, name: str) -> None:
        """SIGSTOP process ``name`` (a server hanging: connections are accepted, nothing is
        answered); :meth:`kill` still ends it."""
        os.killpg(self.procs[name].pid, signal.SIGSTOP)

    def kill(self, name: str) -> None:
        """SIGKILL process ``name`` (a server dying mid-turn) and reap it."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop(self, name: str) -> None:
        """SIGTERM process ``name`` and wait (SIGKILL after 20 s)."""
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def model_etag(self) -> str:
        """The model server's ``ETag`` of the current model file."""
        assert self.layout is not None
        r = httpx.head(self.layout.model_url, timeout=10)
        r.raise_for_status()
        return r.headers["etag"]

    def roll(self, model: Path) -> None:
        """Put ``model`` on the model server, then restart the Rasa servers one at a time,
        each back before the next goes (nginx sends turns to the others meanwhile)."""
        assert self.layout is not None
        target = self.layout.models_dir / MODEL_NAME
        shutil.copy(model, target.with_suffix(".new"))
        os.replace(target.with_suffix(".new"), target)
        for i in range(self.rasa_servers):
            self.stop(f"rasa{i}")
            self.spawn_rasa(i)
            self.wait_rasa(i)

    def loaded_model(self, i: int) -> str:
        """The id of the model Rasa server ``i`` runs (``GET /status``: ``model_id``)."""
        r = httpx.get(f"{self.server_url(i)}/status", params={"token": self.token}, timeout=10)
        r.raise_for_status()
        return str(r.json()["model_id"])

    def say(self, sender: str, text: str, timeout: float = 120,
            message_id: str | None = None) -> httpx.Response:
        """One REST turn through nginx (the raw response: the caller checks it); with a
        ``message_id`` a resent copy is run once (``connectors/rest.py``)."""
        body = {"sender": sender, "message": text,
                **({"message_id": message_id} if message_id else {})}
        return httpx.post(f"{self.url}/webhooks/rest/webhook", json=body, timeout=timeout)

    def tracker(self, sender: str) -> dict[str, Any]:
        """The conversation's tracker from Rasa server 0's HTTP API (any server would do:
        the tracker store is shared)."""
        for i in range(self.rasa_servers):
            if f"rasa{i}" in self.procs:
                r = httpx.get(f"{self.server_url(i)}/conversations/{sender}/tracker",
                              params={"token": self.token}, timeout=30)
                r.raise_for_status()
                return r.json()
        raise RuntimeError("no Rasa server is running")

    def close(self) -> None:
        """Stop every process."""
        for name in list(self.procs):
            self.stop(name)


def _answers(url: str) -> bool:
    try:
        return httpx.head(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False

