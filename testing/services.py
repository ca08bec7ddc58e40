"""Throwaway Redis, RabbitMQ and PostgreSQL servers for tests and benchmarks.

Fault tests stop and restart their servers, so they always get their own instance on a
free port, never the machine's shared one (other programs use it).  The binaries come
from Debian's packages (``redis-server``, ``rabbitmq-server``, ``postgresql``):
:func:`ensure_debian_package` installs a missing one when running as root, else the
error names the ``apt-get`` command.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

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

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start it and wait until it answers (10 s at most).

        Raises:
            RuntimeError: it did not start.
        """
        binary = ensure_debian_package("redis-server", "redis-server")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
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
