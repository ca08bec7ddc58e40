"""A Redis server for tests: a throwaway ``redis-server`` on a free port.

Without the ``redis-server`` binary (``apt-get install redis-server``) a Redis already
answering on 127.0.0.1:6379 is used instead; with neither the test fails and says so.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from testing.services import redis_answers
from testing.stack import free_port


@contextmanager
def redis_url(workdir: Path) -> Iterator[str]:
    """A ``redis://`` URL for the body of the ``with`` (the server stops afterwards).

    Raises:
        RuntimeError: no ``redis-server`` binary and no Redis on port 6379, or the
            throwaway server did not answer within 10 s.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        if redis_answers(6379):
            yield "redis://127.0.0.1:6379/0"
            return
        raise RuntimeError("Redis is needed: apt-get install redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not redis_answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the throwaway redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
