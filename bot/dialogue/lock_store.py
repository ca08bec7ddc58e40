"""A per-conversation lock store without polling inside a process, shared across processes.

Rasa 3.6's ``InMemoryLockStore`` queues messages of one conversation with ticket locks
and re-checks a busy lock every ``wait_time_in_seconds`` (1 s by default, see
``rasa/core/lock_store.py``), so a burst of messages from one sender stalls a second per
message, and it only works in one process.  Here each conversation gets an
:class:`asyncio.Lock` (:class:`bot.dialogue.turn.KeyedLock`), which wakes the next waiter
of the same process as soon as the holder releases it, in FIFO order; ``async with``
releases the lock when a request fails or is cancelled midway (replay R11).

Several Rasa server processes on one host (Sanic workers, ``SANIC_WORKERS=2``) also
exclude each other: the holder of the asyncio lock takes an exclusive POSIX record lock
(``fcntl(2)``, ``F_SETLK``) on one byte of a shared lock file, at an offset hashed from the
conversation id.  The kernel releases a record lock when its process dies, so a crashed
worker never leaves a conversation locked.  Waiting for another process's lock polls
every 2 to 50 ms (it only happens when one sender's messages reach two workers at once).
For Rasa servers on several hosts use :class:`bot.dialogue.redis_lock_store.RedisLockStore`
(not Rasa 3.6's ``RedisLockStore``, which lets two servers hold one conversation).
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore

from bot.config import var_dir
from bot.dialogue.turn import KeyedLock

LOCK_FILE = "conversations.lock"
"""Default lock file name, in :func:`bot.config.var_dir`."""
POLL_S = (0.002, 0.05)
"""First and longest pause (seconds) between attempts on another process's lock."""


class RecordLocks:
    """Exclusive one-byte POSIX record locks in one file, one byte per conversation.

    Record locks belong to a process, not to a coroutine: callers must serialise the
    holders of one conversation inside the process themselves (the lock store does, with
    an asyncio lock).  The file is opened again after a ``fork`` (record locks are not
    inherited, and closing any descriptor of the file would drop this process's locks).
    """

    def __init__(self, path: Path) -> None:
        """Use ``path`` (created with its folder, mode 0600, when missing)."""
        self.path = path
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd, self._pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
        return self._fd

    @staticmethod
    def offset(key: str) -> int:
        """Byte of ``key``: the first 62 bits of its BLAKE2b hash (collisions only make
        two conversations wait for each other)."""
        return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") >> 2

    def try_acquire(self, key: str) -> bool:
        """Take ``key``'s byte if no other process holds it; ``True`` when taken."""
        try:
            fcntl.lockf(self._file(), fcntl.LOCK_EX | fcntl.LOCK_NB, 1, self.offset(key))
        except (BlockingIOError, PermissionError):  # EAGAIN or EACCES: held elsewhere
            return False
        return True

    async def acquire(self, key: str) -> None:
        """Wait (polling, see :data:`POLL_S`) until ``key``'s byte is taken."""
        pause = POLL_S[0]
        while not self.try_acquire(key):
            await asyncio.sleep(pause)
            pause = min(pause * 2, POLL_S[1])

    def release(self, key: str) -> None:
        """Give ``key``'s byte back."""
        fcntl.lockf(self._file(), fcntl.LOCK_UN, 1, self.offset(key))


class AsyncioLockStore(InMemoryLockStore):
    """Lock store whose ``lock`` awaits an :class:`asyncio.Lock` per conversation, then
    the conversation's record lock shared by the Rasa processes of the host.

    Configure in ``endpoints.yml`` (``lock_file`` is optional, default
    ``$TOUCHLINE_VAR/conversations.lock``; every Rasa process serving the same tracker
    store must name the same file)::

        lock_store:
          type: bot.dialogue.lock_store.AsyncioLockStore
          lock_file: var/conversations.lock
    """

    def __init__(self, endpoint_config: Any = None) -> None:  # noqa: ANN401
        """Create the store from Rasa's ``EndpointConfig`` (or ``None`` for defaults)."""
        super().__init__()
        kwargs = getattr(endpoint_config, "kwargs", None) or {}
        self.records = RecordLocks(Path(kwargs.get("lock_file") or var_dir() / LOCK_FILE))
        self._locks = KeyedLock()

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncIterator[TicketLock]:
        """Hold the conversation's lock for the body of the ``async with``.

        Args:
            conversation_id: Rasa sender id.
            lock_lifetime: kept for Rasa's signature; the lock lasts as long as the body
                (or the holding process).
            wait_time_in_seconds: kept for Rasa's signature (see :data:`POLL_S`).

        Yields:
            A :class:`TicketLock` describing the conversation (for Rasa's callers).
        """
        async with self._locks.hold(conversation_id):
            await self.records.acquire(conversation_id)
            try:
                yield TicketLock(conversation_id)
            finally:
                self.records.release(conversation_id)
