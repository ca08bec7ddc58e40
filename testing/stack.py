"""Start the real Rasa server and action server on free ports.

Used by the end-to-end tests (``tests/e2e``) and the benchmarks (``bench/``): each
:class:`Stack` is a Rasa server (REST channel + HTTP API) and an action server sharing one
shop database, with logs in its work folder.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from bot.config import PROJECT_ROOT
from bot.runtime.endpoints import write_endpoints

RASA = str(Path(sys.executable).with_name("rasa"))
"""Rasa's CLI, for ``rasa train`` and Rasa's own tooling."""
RASA_SERVER = [sys.executable, "-m", "bot.runtime.rasa_server"]
"""The Rasa server's entry point (:mod:`bot.runtime.rasa_server`), as the ``Procfile`` starts it."""
ACTION_SERVER = [sys.executable, "-m", "actions"]
"""The action server's entry point (:mod:`actions.__main__`), as the ``Procfile`` starts it."""
NO_TELEMETRY = {"RASA_TELEMETRY_ENABLED": "false"}
"""Rasa's usage telemetry off, as ``make run`` has it (unless the environment turns it on)."""
KICKS_SMALL = ("--n-kicks", "6000", "--trials", "0", "--folds", "2")
"""A kick model that trains in seconds (tests); ``make run`` trains the default one."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    """Poll ``url`` until it answers 200; fail with the log tail if the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:3]} exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not up after {timeout}s:\n{log.read_text()[-3000:]}")


IDENTITY_SECRET = "touchline-tests-identity-secret-0123456789abcdef"
"""``$TOUCHLINE_IDENTITY_SECRET`` of every :class:`Stack` (see :meth:`Stack.customer_token`)."""

NO_DATABASE = "sqlite:////nonexistent/touchline-training-opens-no-database.db"
"""``$DATABASE_URL`` while training: any attempt to open the shop database fails."""


def train_model(out_dir: Path, config: Path | None = None, name: str = "e2e") -> Path:
    """Train the project's data and domain with ``config`` (default ``config.yml``), with
    ``$DATABASE_URL`` pointing nowhere (:data:`NO_DATABASE`): a model is built from the
    repository's files only.

    Returns:
        The model tarball ``out_dir/<name>.tar.gz``.

    Raises:
        subprocess.CalledProcessError: when ``rasa train`` fails.
    """
    args = [RASA, "train", "--fixed-model-name", name, "--out", str(out_dir)]
    if config is not None:
        args += ["--config", str(config)]
    subprocess.run(args, cwd=PROJECT_ROOT, check=True, stdout=subprocess.DEVNULL,
                   env={**NO_TELEMETRY, **os.environ, "DATABASE_URL": NO_DATABASE})
    return out_dir / f"{name}.tar.gz"


def train_project_model(work: Path) -> Path:
    """The assistant's model trained from the project's data and ``config.yml``.

    Its spaCy pipeline is built from the repository's data files in ``work``, not taken
    from ``var/spacy``, so a clean clone and a used checkout train the same model (and
    :func:`train_model` proves training opens no database).

    Args:
        work: an empty folder for the pipeline, the config and the model.

    Returns:
        The model tarball ``work/e2e.tar.gz``.

    Raises:
        AssertionError: ``config.yml`` does not load exactly one spaCy pipeline.
        subprocess.CalledProcessError: when ``rasa train`` fails.
    """
    from bot.nlu.spacy_build import build

    spacy_dir = work / "en_touchline"
    build(spacy_dir)
    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())
    spacy_nlp = [c for c in config["pipeline"] if c["name"].endswith("SpacyNLP")]
    assert len(spacy_nlp) == 1, "config.yml should load one spaCy pipeline"
    spacy_nlp[0]["model"] = str(spacy_dir)
    (work / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return train_model(work, config=work / "config.yml")


def stack_env(work: Path, **overrides: str) -> dict[str, str]:
    """Environment for a :class:`Stack` in ``work``: a new migrated and seeded SQLite shop
    database, local state in ``work``, offline models, the actions' default time budget.

    Args:
        work: the stack's folder (created beforehand).
        **overrides: more variables, e.g. ``TOUCHLINE_ACTION_TIMEOUT_S="60"`` or
            ``SANIC_WORKERS="2"`` (Rasa server processes; default 1).

    Returns:
        ``os.environ`` plus these settings (and Rasa's telemetry off unless
        ``os.environ`` says otherwise).
    """
    from bot.store.schema import init_db

    db_url = f"sqlite:///{work / 'shop.db'}"
    init_db(db_url)
    return {
        **NO_TELEMETRY,
        **os.environ,
        "DATABASE_URL": db_url,
        "TOUCHLINE_VAR": str(work),
        "PYTHONUNBUFFERED": "1",
        "SANIC_WORKERS": "1",
        "TOUCHLINE_IDENTITY_SECRET": IDENTITY_SECRET,
        # No opening hours: a handoff while no agent is online says the same whatever the
        # day and time of the run (screenshots stay the same).
        "TOUCHLINE_OPENING_HOURS": "",
        # Most stacks take no phone calls: their servers load the speech engines only if a
        # test uses them.  The call tests and bench.voice set it off, as in production.
        "TOUCHLINE_VOICE_ON_DEMAND": "1",
        **overrides,
    }


def prepare_features(env: dict[str, str], kicks: tuple[str, ...] = KICKS_SMALL) -> None:
    """Train the kick model and build the product-search index for ``env``'s database.

    Args:
        env: environment with ``DATABASE_URL`` and ``TOUCHLINE_VAR`` of the stack.
        kicks: arguments of ``python -m bot.kicks.train`` (default a small, fast model).

    Raises:
        subprocess.CalledProcessError: when a step fails.
    """
    python = str(Path(sys.executable))
    for args in (["-m", "bot.kicks.train", *kicks], ["-m", "bot.search.cli", "rebuild"]):
        subprocess.run([python, *args], cwd=PROJECT_ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@dataclass
class Stack:
    """A running action server + Rasa server pair sharing one shop database."""

    workdir: Path
    model: Path
    env: dict[str, str]
    rasa_port: int = field(default_factory=free_port)
    action_port: int = field(default_factory=free_port)
    token: str = "e2e-token"
    endpoints: Path | None = None
    """A ready endpoints file; ``None`` writes one (SQL tracker store in ``workdir``)."""
    cors: tuple[str, ...] = ()
    """Origins allowed to call Rasa from a browser (``rasa run --cors``), e.g. the widget's page."""
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Base URL of the Rasa server."""
        return f"http://127.0.0.1:{self.rasa_port}"

    def log(self, name: str) -> Path:
        """Log file of process ``name``."""
        return self.workdir / f"{name}.log"

    def _spawn(self, name: str, args: list[str], **env: str) -> subprocess.Popen:
        log = self.log(name).open("a")
        proc = subprocess.Popen(
            args,
            cwd=PROJECT_ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def start_actions(self) -> None:
        """Start (or restart) the action server and wait until it answers."""
        self._wait_actions(self._spawn_actions())

    def _spawn_actions(self) -> subprocess.Popen:
        """Start the action server on 127.0.0.1 (as the ``Procfile`` does: it has no
        authentication)."""
        return self._spawn("actions", [*ACTION_SERVER, "--port", str(self.action_port)],
                           SANIC_HOST="127.0.0.1")

    def _wait_actions(self, proc: subprocess.Popen) -> None:
        """Wait until the action server ``proc`` answers its health check."""
        wait_http(f"http://127.0.0.1:{self.action_port}/health", proc, self.log("actions"))

    def stop(self, name: str) -> None:
        """Terminate process ``name`` and wait for it."""
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def start(self) -> Stack:
        """Start both servers at once (Rasa calls the action server only in a turn, so
        neither waits for the other to start) and wait until both answer."""
        endpoints = self.endpoints or write_endpoints(
            self.workdir / "endpoints.yml",
            f"http://127.0.0.1:{self.action_port}/webhook",
            str(self.workdir / "tracker.db"),
        )
        actions = self._spawn_actions()
        proc = self._spawn(
            "rasa",
            [
                *RASA_SERVER,
                "run",
                "--enable-api",
                "--auth-token",
                self.token,
                "--interface",
                "127.0.0.1",
                "--port",
                str(self.rasa_port),
                "--credentials",
                "credentials.yml",
                "--endpoints",
                str(endpoints),
                "--model",
                str(self.model),
                *(["--cors", *self.cors] if self.cors else []),
            ],
            RASA_AUTH_TOKEN=self.token,  # the widget channel's agent-typing route checks it
        )
        self._wait_actions(actions)
        wait_http(f"{self.url}/", proc, self.log("rasa"))
        self._wait_workers(proc)
        return self

    def _wait_workers(self, proc: subprocess.Popen, timeout: float = 240) -> None:
        """With ``SANIC_WORKERS`` > 1, wait until every worker has loaded the model (each
        logs Rasa's "up and running" line); the first one alone answers ``wait_http``."""
        workers = int(self.env.get("SANIC_WORKERS", "1"))
        deadline = time.monotonic() + timeout
        while self.log("rasa").read_text().count("Rasa server is up and running") < workers:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"not all {workers} workers came up:\n"
                                   f"{self.log('rasa').read_text()[-3000:]}")
            time.sleep(0.5)

    def start_api(self, port: int | None = None) -> str:
        """Start Touchline's FastAPI service (widget, demo page, APIs) beside this stack,
        pointed at its Rasa server, and wait until it answers.

        Args:
            port: where it listens; ``None`` picks a free port.

        Returns:
            Its base URL.  :meth:`close` stops it with the rest.
        """
        port = port or free_port()
        uvicorn = str(Path(sys.executable).with_name("uvicorn"))
        self.env = {**self.env, "TOUCHLINE_RASA_PUBLIC_URL": self.url}
        # The agent inbox sends through Rasa's HTTP API and reads the tracker store.
        proc = self._spawn("api", [uvicorn, "bot.api.app:create_app", "--factory", "--ws",
                                   "none", "--host", "127.0.0.1", "--port", str(port)],
                           TOUCHLINE_RASA_URL=self.url, RASA_AUTH_TOKEN=self.token,
                           TRACKER_DB=str(self.workdir / "tracker.db"))
        wait_http(f"http://127.0.0.1:{port}/health", proc, self.log("api"))
        return f"http://127.0.0.1:{port}"

    def close(self) -> None:
        """Stop every process."""
        for name in list(self.procs):
            self.stop(name)

    def customer_token(self, name: str, conversation: str, ttl_s: int = 600) -> str:
        """An identity token for the demo customer ``name`` (``alice``) in ``conversation``,
        as the shop's backend mints it (:func:`bot.identity.tokens.mint`)."""
        from bot.identity.tokens import mint
        from bot.store import customers
        from bot.store.db import session_scope

        with session_scope(self.env["DATABASE_URL"]) as session:
            customer_id = customers.by_sender(session, name).id
        return mint(customer_id, conversation, self.env["TOUCHLINE_IDENTITY_SECRET"], ttl_s)

    def say(self, sender: str, message: Any, timeout: float = 60,  # noqa: ANN401
            customer: str | None = None) -> list[dict[str, Any]]:
        """Send one message over the REST channel; returns the bot's messages.

        Args:
            sender: the conversation id.
            message: the text (anything JSON, to test bad input).
            timeout: seconds to wait for the answer.
            customer: a demo customer (``alice``) the message is signed in as, with a fresh
                identity token in ``metadata.customer_token``; ``None``: anonymous.
        """
        body: dict[str, Any] = {"sender": sender, "message": message}
        if customer is not None:
            body["metadata"] = {"customer_token": self.customer_token(customer, sender)}
        r = httpx.post(f"{self.url}/webhooks/rest/webhook", json=body, timeout=timeout)
        assert r.status_code == 200, r.text
        return r.json()

    def tracker(self, sender: str, include_events: str = "AFTER_RESTART") -> dict[str, Any]:
        """The conversation's tracker from Rasa's HTTP API; ``include_events`` as Rasa's
        parameter of that name (``ALL``: also the events before a restart)."""
        r = httpx.get(
            f"{self.url}/conversations/{sender}/tracker",
            params={"token": self.token, "include_events": include_events}, timeout=30,
        )
        r.raise_for_status()
        return r.json()

    def parse(self, text: str) -> dict[str, Any]:
        """``POST /model/parse``."""
        r = httpx.post(
            f"{self.url}/model/parse", params={"token": self.token}, json={"text": text}, timeout=30
        )
        assert r.status_code == 200, r.text
        return r.json()


def texts(messages: list[dict[str, Any]]) -> str:
    """All bot texts of a reply, one per line."""
    return "\n".join(m.get("text", "") for m in messages)
