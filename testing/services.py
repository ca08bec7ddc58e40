"""Throwaway Redis, RabbitMQ and PostgreSQL servers for tests and benchmarks.

Fault tests stop and restart their servers, so they always get their own instance on a
free port, never the machine's shared one (other programs use it).  The binaries come
from Debian's packages (``redis-server``, ``rabbitmq-server``, ``postgresql``):
:func:`ensure_debian_package` installs a missing one when running as root, else the
error names the ``apt-get`` command.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testing.stack import free_port


def ensure_debian_package(binary: str, package: str) -> str:
    """Path of ``binary``, installing Debian's ``package`` first when it is missing.

    Raises:
        RuntimeError: missing, and this process cannot install it (not root, or apt failed).
    """
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin")
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError(f"{binary} is needed: sudo apt-get install -y {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in (["apt-get", "install", "-y", "-qq", package],
                 ["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        done = subprocess.run(args, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, check=False)
        if args[1] == "install" and done.returncode == 0:
            break
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin")
    if not found:
        raise RuntimeError(f"apt-get could not install {package} (for {binary})")
    return found


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_until(check: object, what: str, timeout: float = 30) -> None:
    """Poll ``check()`` every 50 ms until it is true.

    Raises:
        RuntimeError: still false after ``timeout`` seconds (the message names ``what``).
    """
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.05)


def redis_answers(port: int) -> bool:
    """Whether a Redis server on 127.0.0.1:``port`` answers ``PING``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    """A ``redis-server`` of this process on a fixed free port, stoppable and restartable
    (nothing kept on disk: a restart loses every key, as the machine's shared Redis does)."""

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    host: str = "127.0.0.1"
    """Address it listens on besides 127.0.0.1 (a :class:`testing.netns.Network`'s
    gateway, for servers in namespaces) and that :attr:`url` names."""

    @property
    def url(self) -> str:
        """``redis://<host>:<port>/0``."""
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> RedisServer:
        """Start it and wait until it answers (10 s at most).

        Raises:
            RuntimeError: it did not start.
        """
        binary = ensure_debian_package("redis-server", "redis-server")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            # Protected mode refuses other addresses than loopback without a password.
            [binary, "--port", str(self.port), "--bind", *sorted({"127.0.0.1", self.host}),
             "--protected-mode", "yes" if self.host == "127.0.0.1" else "no", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: redis_answers(self.port), f"redis-server on {self.port}", 10)
        return self

    def stop(self, kill: bool = False) -> None:
        """Stop it (SIGTERM, or SIGKILL with ``kill``) and wait for its exit."""
        if self.proc is not None and self.proc.poll() is None:
            (self.proc.kill if kill else self.proc.terminate)()
            self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> RedisServer:
        """Start it."""
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        """Stop it."""
        self.stop()


@dataclass
class RabbitServer:
    """A ``rabbitmq-server`` node of this process on a free port (its own node name, data
    and log folders under ``workdir``, no plugins), stoppable and restartable with its data:
    durable queues and persistent messages survive :meth:`stop` + :meth:`start`.

    Run as root, Debian's ``rabbitmq-server`` script switches to the ``rabbitmq`` user,
    which cannot enter pytest's private temporary folders: the node's data then lives in a
    folder of its own under the system's temporary folder, removed by :meth:`__exit__`.
    """

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    data: Path | None = None
    host: str = "127.0.0.1"
    """Address :attr:`url` names; any other than 127.0.0.1 lets ``guest`` log in from
    other addresses (RabbitMQ's ``loopback_users``), for servers in namespaces."""

    @property
    def url(self) -> str:
        """``amqp://guest:guest@<host>:<port>/``."""
        return f"amqp://guest:guest@{self.host}:{self.port}/"

    def _env(self, base: Path) -> dict[str, str]:
        return {**os.environ,
                "RABBITMQ_NODENAME": f"touchline{self.port}@localhost",
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(free_port()),
                "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
                "RABBITMQ_LOG_BASE": str(base / "log"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "plugins"),
                "RABBITMQ_PID_FILE": str(base / "rabbit.pid"),
                "RABBITMQ_CONFIG_FILE": str(base / "none"),
                **({} if self.host == "127.0.0.1" else
                   {"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-rabbit loopback_users []"})}

    def start(self) -> RabbitServer:
        """Start it and wait until it accepts connections (60 s at most).

        Raises:
            RuntimeError: it did not start (the message holds its output's tail).
        """
        binary = ensure_debian_package("rabbitmq-server", "rabbitmq-server")
        if self.data is None:
            self.data = Path(tempfile.mkdtemp(prefix=f"touchline-rabbit{self.port}-"))
            self.data.chmod(0o755)
            for folder in ("mnesia", "log"):
                (self.data / folder).mkdir()
            (self.data / "plugins").touch()
            if os.geteuid() == 0:
                subprocess.run(["chown", "-R", "rabbitmq", str(self.data)], check=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        out = (self.workdir / "out.log").open("a")
        self.proc = subprocess.Popen([binary], env=self._env(self.data), stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     cwd=self.data)
        try:
            wait_until(lambda: port_open(self.port) or self.proc.poll() is not None,
                       f"rabbitmq-server on {self.port}", 60)
        finally:
            out.close()
        if not port_open(self.port):
            tail = (self.workdir / "out.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"rabbitmq-server did not start:\n{tail}")
        return self

    def stop(self) -> None:
        """Stop the node (SIGTERM to the Erlang VM named in its pid file: a clean shutdown;
        as root the VM runs in a session of its own under ``su``) and wait."""
        pid_file = self.data / "rabbit.pid" if self.data else None
        if pid_file is not None and pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        wait_until(lambda: not port_open(self.port), f"rabbitmq-server {self.port} exit", 60)
        if self.proc is not None:
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> RabbitServer:
        """Start it."""
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        """Stop it and remove its data."""
        self.stop()
        if self.data is not None:
            shutil.rmtree(self.data, ignore_errors=True)


@dataclass
class PostgresServer:
    """PostgreSQL 16 with pgvector from the ``pgserver`` wheel (Debian 12's PostgreSQL has
    no pgvector, which the product search needs on PostgreSQL), reached through a UNIX
    socket in its own folder; stoppable and restartable with its data.

    Run as root, ``pgserver`` runs PostgreSQL as an unprivileged user, which cannot enter
    pytest's private temporary folders: the data lives in a folder of its own under the
    system's temporary folder (``workdir`` is not used then), removed by :meth:`__exit__`.
    """

    workdir: Path
    server: Any = None
    data: Path | None = None

    def start(self) -> PostgresServer:
        """Start it (created on the first start) and wait until it accepts connections."""
        import pgserver

        if self.server is None:
            self.data = Path(tempfile.mkdtemp(prefix="touchline-pg-"))
            self.data.chmod(0o755)
            self.server = pgserver.get_server(self.data / "pgdata", cleanup_mode="delete")
        else:
            self.server.ensure_postgres_running()
        return self

    def stop(self) -> None:
        """Stop it (``pg_ctl stop -m fast``: open sessions are cut, as in a restart)."""
        from pgserver.postgres_server import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata,
               user=self.server.system_user)

    def database(self, name: str) -> str:
        """Create database ``name``; its URL."""
        import sqlalchemy as sa

        admin_url = self.server.get_uri()  # postgresql://postgres:@/postgres?host=/socket/dir
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        # not URL-escaped: Alembic's config file format reads "%" as interpolation
        return admin_url.replace("/postgres?", f"/{name}?", 1)

    def __enter__(self) -> PostgresServer:
        """Start it."""
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        """Stop it and delete its data."""
        self.server.cleanup()
        if self.data is not None:
            shutil.rmtree(self.data, ignore_errors=True)
