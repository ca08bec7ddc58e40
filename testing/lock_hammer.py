"""Many turns of one conversation through a lock store, as one Rasa server would take them:
``python -m testing.lock_hammer URL KEY_PREFIX TURNS TASKS [rasa|touchline]``.

Each turn holds the conversation's lock while it increments a Redis counter of holders,
pauses a millisecond and decrements it; the most holders seen at once is printed as JSON
(``{"turns": N, "max_holders": H}``).  ``python -m testing.lock_hammer URL KEY_PREFIX hold``
takes the lock, prints ``held`` and keeps it until killed (a server killed mid-turn).
Used by ``tests/dialogue/test_redis_lock_store.py`` with several of these processes at once.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any
from urllib.parse import urlparse

import redis.asyncio as aioredis
from rasa.utils.endpoints import EndpointConfig

CONVERSATION = "hammered"
"""The one conversation every process and task takes turns of."""


def make_store(kind: str, url: str, prefix: str, **kwargs: Any) -> Any:  # noqa: ANN401
    """Touchline's :class:`~bot.dialogue.redis_lock_store.RedisLockStore` or Rasa 3.6's
    ``RedisLockStore`` on ``url`` with key prefix ``prefix``."""
    if kind == "rasa":
        from rasa.core.lock_store import RedisLockStore as RasaRedisLockStore

        parsed = urlparse(url)
        return RasaRedisLockStore(host=parsed.hostname or "127.0.0.1", port=parsed.port or 6379,
                                  db=int(parsed.path.strip("/") or 0), key_prefix=prefix)
    from bot.dialogue.redis_lock_store import RedisLockStore

    return RedisLockStore(EndpointConfig(url=url, key_prefix=prefix, **kwargs))


async def hammer(store: Any, url: str, prefix: str, turns: int, tasks: int) -> int:  # noqa: ANN401
    """Run ``turns`` turns in ``tasks`` concurrent tasks; the most holders seen at once."""
    counter = aioredis.Redis.from_url(url)
    most = 0

    async def task(n: int) -> None:
        nonlocal most
        for _ in range(n):
            async with store.lock(CONVERSATION, wait_time_in_seconds=0.002):
                most = max(most, await counter.incr(prefix + "holders"))
                await asyncio.sleep(0.001)
                await counter.decr(prefix + "holders")

    await asyncio.gather(*(task(turns // tasks) for _ in range(tasks)))
    await counter.close()
    return most


async def hold(store: Any) -> None:  # noqa: ANN401
    """Take the lock, say so on stdout, keep it forever."""
    async with store.lock(CONVERSATION):
        print("held", flush=True)
        await asyncio.sleep(3600)


def main(argv: list[str]) -> None:
    """Entry point (see the module docstring)."""
    url, prefix = argv[0], argv[1]
    if argv[2] == "hold":
        asyncio.run(hold(make_store("touchline", url, prefix, lease_ms=500)))
        return
    turns, tasks = int(argv[2]), int(argv[3])
    kind = argv[4] if len(argv) > 4 else "touchline"
    most = asyncio.run(hammer(make_store(kind, url, prefix), url, prefix, turns, tasks))
    print(json.dumps({"turns": turns, "max_holders": most}))


if __name__ == "__main__":
    main(sys.argv[1:])
