import asyncio
import time

import pytest

from bot.dialogue.lock_store import AsyncioLockStore


def test_burst_is_served_in_order_without_polling():
    store = AsyncioLockStore()
    order = []

    async def turn(i):
        async with store.lock("c1"):
            order.append(i)
            await asyncio.sleep(0.01)

    async def main():
        started = time.monotonic()
        await asyncio.gather(*(turn(i) for i in range(5)))
        return time.monotonic() - started

    elapsed = asyncio.run(main())
    assert order == [0, 1, 2, 3, 4]
    assert elapsed < 2.0  # Rasa's InMemoryLockStore polls once a second: >= 4 s here
    assert store._locks == {}  # released and forgotten


def test_lock_is_released_when_a_request_dies():
    store = AsyncioLockStore()

    async def main():
        async def dies():
            async with store.lock("c2"):
                raise RuntimeError("action blew up")

        with pytest.raises(RuntimeError):
            await dies()

        async def hangs():
            async with store.lock("c2"):
                await asyncio.sleep(60)

        task = asyncio.create_task(hangs())
        await asyncio.sleep(0.01)
        task.cancel()
        async with store.lock("c2"):
            return True

    assert asyncio.run(asyncio.wait_for(main(), 5))


def test_conversations_do_not_block_each_other():
    store = AsyncioLockStore()

    async def main():
        async with store.lock("a"):
            async with store.lock("b"):
                return True

    assert asyncio.run(asyncio.wait_for(main(), 1))
