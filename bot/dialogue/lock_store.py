"""A per-conversation lock store without polling.

Rasa 3.6's ``InMemoryLockStore`` queues messages of one conversation with ticket locks
and re-checks a busy lock every ``wait_time_in_seconds`` (1 s by default, see
``rasa/core/lock_store.py``), so a burst of messages from one sender stalls a second per
message.  Here each conversation gets an :class:`asyncio.Lock`, which wakes the next
waiter as soon as the holder releases it, in FIFO order.  ``async with`` releases the
lock when a request fails or is cancelled midway (replay R11).

Single process only, like ``InMemoryLockStore``; use Rasa's ``RedisLockStore`` for
several Rasa server processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore


class AsyncioLockStore(InMemoryLockStore):
    """Lock store whose ``lock`` awaits an :class:`asyncio.Lock` per conversation.

    Configure in ``endpoints.yml``::

        lock_store:
          type: bot.dialogue.lock_store.AsyncioLockStore
    """

    def __init__(self, endpoint_config: Any = None) -> None:  # noqa: ANN401
        """Create the store; ``endpoint_config`` is accepted for Rasa's factory and unused."""
        super().__init__()
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiters: dict[str, int] = {}

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
            lock_lifetime: kept for Rasa's signature; an asyncio lock cannot expire.
            wait_time_in_seconds: kept for Rasa's signature; no polling happens.

        Yields:
            A :class:`TicketLock` describing the conversation (for Rasa's callers).
        """
        lock = self._locks.setdefault(conversation_id, asyncio.Lock())
        self._waiters[conversation_id] = self._waiters.get(conversation_id, 0) + 1
        try:
            async with lock:
                yield TicketLock(conversation_id)
        finally:
            self._waiters[conversation_id] -= 1
            if self._waiters[conversation_id] == 0:
                del self._waiters[conversation_id]
                del self._locks[conversation_id]
