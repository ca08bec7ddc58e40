"""A per-conversation lock shared by Rasa servers on several hosts, atomic on Redis.

Rasa 3.6's ``RedisLockStore`` (``rasa/core/lock_store.py``) issues a ticket by reading the
conversation's lock (``GET``), adding a ticket in Python and writing the whole lock back
(``SET``).  Two servers that read before either writes both issue ticket 0, both see
"now serving 0" and run the conversation's turns at the same time (RasaHQ/rasa#9213; the
fix, ``ConcurrentRedisLockStore``, was reverted from Rasa Open Source).
``tests/dialogue/test_redis_lock_store.py`` reproduces that race.

Here taking the lock is one Redis command, ``SET key token NX PX lease``: Redis runs it
atomically, so at most one holder exists whatever the number of servers.  Around it:

* inside a process the conversation's waiters queue on an :class:`asyncio.Lock`
  (:class:`bot.dialogue.turn.KeyedLock`, first come first served), so only the head of the
  queue asks Redis;
* waiting for another server's holder retries ``SET NX`` every 2 ms, doubling to 50 ms
  (:data:`POLL_S`): one round trip per attempt; fairness across servers is not promised,
  only that no turn of a conversation overlaps another;
* the lock is a lease of :data:`LEASE_MS` that the holder renews every third of it while the
  turn runs (compare-and-``PEXPIRE`` in Lua), so a long turn keeps its lock and a server
  killed with SIGKILL frees its conversations within one lease;
* the holder releases with compare-and-``DEL`` (Lua): a lease that expired and was taken by
  another server is never deleted by the late first holder;
* Redis unreachable (refused, reset, timed out) for longer than :data:`UNAVAILABLE_GRACE_S`
  raises :class:`LockStoreUnavailable` after at most that long (connect and read time-outs
  of 1 and 2 s, never a hang); the channels then apologise to the customer
  (:func:`bot.dialogue.turn.run_turn`).  A wait longer than :data:`MAX_WAIT_S` for another
  holder raises :class:`LockWaitTimeout`, which names the holder (a lock's value is
  ``<host>:<pid>:<random>``), and a holder that keeps a lock past :data:`LONG_HOLD_S` logs
  a warning, so a stuck turn can be found in its own server's log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import redis.asyncio as aioredis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.dialogue.turn import KeyedLock

logger = logging.getLogger(__name__)

KEY_PREFIX = "touchline:lock:"
"""Default prefix of the lock keys (``<prefix><conversation id>``)."""
LEASE_MS = 10_000
"""Default lease of a held lock (milliseconds): a killed holder frees it after this long."""
POLL_S = (0.002, 0.05)
"""First and longest pause (seconds) between attempts on another server's lock."""
MAX_WAIT_S = 60.0
"""Longest wait for another server's holder before :class:`LockWaitTimeout` (seconds;
Rasa's own lock lifetime default, ``rasa/core/constants.py::DEFAULT_LOCK_LIFETIME``)."""
LONG_HOLD_S = 30.0
"""A holder that keeps a lock this long logs a warning once (seconds; half of
:data:`MAX_WAIT_S`: the waiters are about to give up)."""
UNAVAILABLE_GRACE_S = 3.0
"""How long Redis may stay unreachable during one acquisition (a restart) before
:class:`LockStoreUnavailable` (seconds)."""
CONNECT_TIMEOUT_S = 1.0
"""Redis connect time-out (seconds)."""
SOCKET_TIMEOUT_S = 2.0
"""Redis read/write time-out (seconds)."""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
"""Extend the lease if this holder still owns it (1), else 0."""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
"""Delete the lock if this holder still owns it (1), else 0."""

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
"""Errors that mean Redis could not be reached (``redis-py`` raises its own types, a few
socket errors come through as :class:`OSError`)."""


class LockStoreUnavailable(LockError):
    """Redis could not be reached while taking a conversation's lock."""


class LockWaitTimeout(LockError):
    """Another server held the conversation's lock for longer than the wait allowed."""


class RedisLockStore(InMemoryLockStore):
    """Lock store whose ``lock`` is an atomic lease on Redis (see the module docstring).

    Configure in ``endpoints.yml`` (every key but ``url`` is optional; the defaults are
    :data:`KEY_PREFIX`, :data:`LEASE_MS`, :data:`MAX_WAIT_S`)::

        lock_store:
          type: bot.dialogue.redis_lock_store.RedisLockStore
          url: redis://127.0.0.1:6379/1
          key_prefix: "touchline:lock:"
          lease_ms: 10000
          max_wait_s: 60
    """

    def __init__(self, endpoint_config: Any = None) -> None:  # noqa: ANN401
        """Create the store from Rasa's ``EndpointConfig`` (``url`` required).

        Raises:
            ValueError: no ``url``, or a lease under 100 ms.
        """
        super().__init__()
        url = getattr(endpoint_config, "url", None)
        if not url:
            raise ValueError("RedisLockStore needs url: redis://host:port/db in endpoints.yml")
        kwargs = getattr(endpoint_config, "kwargs", None) or {}
        self.url: str = url
        self.key_prefix: str = str(kwargs.get("key_prefix") or KEY_PREFIX)
        self.lease_ms = int(kwargs.get("lease_ms") or LEASE_MS)
        if self.lease_ms < 100:
            raise ValueError(f"lease_ms must be at least 100, got {self.lease_ms}")
        self.max_wait_s = float(kwargs.get("max_wait_s") or MAX_WAIT_S)
        self.grace_s = float(kwargs.get("unavailable_grace_s") or UNAVAILABLE_GRACE_S)
        self._locks = KeyedLock()
        self._client: aioredis.Redis | None = None
        self._owner: tuple[int, asyncio.AbstractEventLoop] | None = None
        self.round_trips = 0
        """Redis commands this store sent in this process (bench cost model)."""

    def redis(self) -> aioredis.Redis:
        """This process and event loop's client (Sanic workers fork after the store is
        made, and a client's connections belong to one loop)."""
        owner = (os.getpid(), asyncio.get_running_loop())
        if self._client is None or self._owner != owner:
            self._client = aioredis.Redis.from_url(
                self.url, socket_connect_timeout=CONNECT_TIMEOUT_S,
                socket_timeout=SOCKET_TIMEOUT_S)
            self._owner = owner
        return self._client

    def key(self, conversation_id: str) -> str:
        """Redis key of ``conversation_id``'s lock."""
        return self.key_prefix + conversation_id

    async def _command(self, *args: Any) -> Any:  # noqa: ANN401
        self.round_trips += 1
        return await self.redis().execute_command(*args)

    async def try_acquire(self, conversation_id: str, token: str) -> bool:
        """One ``SET key token NX PX lease``: ``True`` when this call took the lock.

        Raises:
            redis.exceptions.ConnectionError, redis.exceptions.TimeoutError: unreachable.
        """
        return bool(await self._command("SET", self.key(conversation_id), token, "NX", "PX",
                                        self.lease_ms))

    async def acquire(self, conversation_id: str, token: str) -> None:
        """Wait until ``token`` holds ``conversation_id``'s lock.

        Raises:
            LockStoreUnavailable: Redis unreachable for :attr:`grace_s` seconds in a row.
            LockWaitTimeout: another holder kept the lock for :attr:`max_wait_s` seconds.
        """
        start = time.monotonic()
        unreachable_since: float | None = None
        pause = POLL_S[0]
        while True:
            try:
                if await self.try_acquire(conversation_id, token):
                    return
                unreachable_since = None
            except UNREACHABLE as exc:
                now = time.monotonic()
                unreachable_since = unreachable_since or now
                if now - unreachable_since >= self.grace_s:
                    raise LockStoreUnavailable(
                        f"Redis lock store {self.url} unreachable for {self.grace_s:.0f} s "
                        f"({type(exc).__name__}: {exc}); conversation {conversation_id!r} "
                        "not processed") from exc
                pause = max(pause, 0.1)
            if time.monotonic() - start >= self.max_wait_s:
                raise LockWaitTimeout(
                    f"conversation {conversation_id!r} still locked by another server after "
                    f"{self.max_wait_s:.0f} s (holder {await self._holder(conversation_id)})")
            await asyncio.sleep(pause)
            pause = min(pause * 2, POLL_S[1] if unreachable_since is None else 0.5)

    async def _holder(self, conversation_id: str) -> str:
        """Who holds the lock now (``<host>:<pid>``), for an error message; best effort."""
        try:
            value = await self._command("GET", self.key(conversation_id))
        except UNREACHABLE:
            return "unknown: Redis unreachable"
        if value is None:
            return "none now"
        return value.decode().rpartition(":")[0] if isinstance(value, bytes) else str(value)

    async def _renew(self, conversation_id: str, token: str, done: asyncio.Event) -> None:
        """Extend the lease every third of it until ``done`` is set; stop if it was lost;
        warn once when held for :data:`LONG_HOLD_S`.

        It ends by ``done``, not by cancellation: on Python 3.10 ``asyncio.wait_for``
        (which redis-py wraps each command in) can swallow a cancellation (CPython
        gh-86296), and a renewal that lost its cancel renewed a finished turn's lock for
        minutes while the turn waited for it to end (``bench/cluster.py``).
        """
        start = time.monotonic()
        warned = False
        while True:
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(done.wait(), self.lease_ms / 3000)
            if done.is_set():
                return
            if not warned and time.monotonic() - start >= LONG_HOLD_S:
                warned = True
                logger.warning("lock of %s held for %.0f s by this process (%s)",
                               conversation_id, time.monotonic() - start,
                               token.rpartition(":")[0])
            try:
                owned = await self._command("EVAL", _RENEW, 1, self.key(conversation_id),
                                            token, self.lease_ms)
            except UNREACHABLE as exc:
                logger.warning("could not renew the lock of %s: %s", conversation_id, exc)
                continue
            if not owned and not done.is_set():
                logger.error("lock of %s expired while its turn ran", conversation_id)
                return

    async def release(self, conversation_id: str, token: str) -> None:
        """Delete the lock if ``token`` still holds it; Redis errors are logged (the lease
        then expires by itself)."""
        try:
            await self._command("EVAL", _RELEASE, 1, self.key(conversation_id), token)
        except UNREACHABLE as exc:
            logger.warning("could not release the lock of %s (it expires in %d ms): %s",
                           conversation_id, self.lease_ms, exc)

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
            lock_lifetime: kept for Rasa's signature (the lease is renewed instead).
            wait_time_in_seconds: kept for Rasa's signature (see :data:`POLL_S`).

        Yields:
            A :class:`TicketLock` describing the conversation (for Rasa's callers).

        Raises:
            LockStoreUnavailable: Redis unreachable (see :meth:`acquire`).
            LockWaitTimeout: the lock stayed held elsewhere too long.
        """
        async with self._locks.hold(conversation_id):
            token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
            await self.acquire(conversation_id, token)
            done = asyncio.Event()
            renewal = asyncio.create_task(self._renew(conversation_id, token, done))
            try:
                yield TicketLock(conversation_id)
            finally:
                done.set()  # a renewal mid-command ends within the command's time-outs
                try:
                    await asyncio.wait({renewal}, timeout=CONNECT_TIMEOUT_S + SOCKET_TIMEOUT_S)
                finally:
                    await asyncio.shield(self.release(conversation_id, token))
