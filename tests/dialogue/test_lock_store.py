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
    assert len(store._locks) == 0  # released and forgotten


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


HOLDER = """
import asyncio, sys, time
from pathlib import Path
from bot.dialogue.lock_store import AsyncioLockStore
from rasa.utils.endpoints import EndpointConfig

async def main():
    store = AsyncioLockStore(EndpointConfig(lock_file=sys.argv[1]))
    async with store.lock("shared"):
        print("held", flush=True)
        await asyncio.sleep(float(sys.argv[2]))

asyncio.run(main())
"""


def _holder(tmp_path, seconds):
    import subprocess
    import sys

    from bot.config import PROJECT_ROOT

    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "locks"), str(seconds)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def _store(tmp_path):
    from rasa.utils.endpoints import EndpointConfig

    return AsyncioLockStore(EndpointConfig(lock_file=str(tmp_path / "locks")))


def test_another_process_holding_the_conversation_makes_us_wait(tmp_path):
    proc = _holder(tmp_path, 3.0)
    store = _store(tmp_path)

    async def main():
        started = time.monotonic()
        async with store.lock("someone-else"):  # other conversations pass at once
            other = time.monotonic() - started
        async with store.lock("shared"):
            return other, time.monotonic() - started

    other, waited = asyncio.run(asyncio.wait_for(main(), 10))
    assert proc.wait(60) == 0
    assert other < 1.0
    assert waited > 1.5  # the holder kept it for 3 s (generous bounds: CI is noisy)


def test_a_killed_process_does_not_leave_the_conversation_locked(tmp_path):
    proc = _holder(tmp_path, 600)
    store = _store(tmp_path)
    assert not store.records.try_acquire("shared")
    proc.kill()
    proc.wait()

    async def main():
        async with store.lock("shared"):
            return True

    assert asyncio.run(asyncio.wait_for(main(), 2))
