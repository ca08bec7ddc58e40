"""The Redis lock store against a real ``redis-server`` (a throwaway one per module, so it
can be stopped): Rasa 3.6's race first, then Touchline's store under the same conditions,
a server killed while holding a lock, renewal of a long turn, Redis down and back."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from rasa.core.lock_store import RedisLockStore as RasaRedisLockStore
from rasa.utils.endpoints import EndpointConfig
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.config import PROJECT_ROOT
from bot.dialogue import redis_lock_store
from bot.dialogue.redis_lock_store import (
    LockStoreUnavailable,
    LockWaitTimeout,
    RedisLockStore,
)
from testing.services import RedisServer

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    """A throwaway Redis for this module (never the machine's shared one: tests stop it)."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


def store(server: RedisServer, prefix: str, **kwargs: object) -> RedisLockStore:
    """Touchline's store on ``server`` under ``prefix``."""
    return RedisLockStore(EndpointConfig(url=server.url, key_prefix=prefix, **kwargs))


class ReadsBeforeWrites(RasaRedisLockStore):
    """Rasa 3.6's ``RedisLockStore`` unchanged, except that its first read of the lock
    waits until the other server has read it too: two servers receiving one sender's
    messages at the same moment (RasaHQ/rasa#9213)."""

    def __init__(self, port: int, barrier: threading.Barrier) -> None:
        super().__init__(host="127.0.0.1", port=port, db=0, key_prefix="race")
        self.barrier = barrier
        self.reads = 0

    def get_lock(self, conversation_id):  # noqa: ANN001, ANN201
        lock = super().get_lock(conversation_id)
        self.reads += 1
        if self.reads == 1:
            self.barrier.wait(5)
        return lock


def holders_at_once(make_store, n_servers: int = 2) -> int:  # noqa: ANN001
    """Run one turn of one conversation on each of ``n_servers`` "servers" (threads, each
    with its own store and event loop) at once; the most turns that were inside the lock
    at the same time."""
    inside, most, guard = 0, 0, threading.Lock()

    async def turn(lock_store) -> None:  # noqa: ANN001
        nonlocal inside, most
        async with lock_store.lock("alice", wait_time_in_seconds=0.01):
            with guard:
                inside += 1
                most = max(most, inside)
            await asyncio.sleep(0.2)
            with guard:
                inside -= 1

    stores = [make_store(i) for i in range(n_servers)]
    threads = [threading.Thread(target=asyncio.run, args=(turn(s),)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return most


def test_rasa_redis_lock_store_lets_two_servers_hold_one_conversation(redis_server):
    barrier = threading.Barrier(2)
    assert holders_at_once(lambda _i: ReadsBeforeWrites(redis_server.port, barrier)) == 2


def test_touchline_store_one_holder_when_two_servers_ask_at_once(redis_server):
    assert holders_at_once(lambda _i: store(redis_server, "same-moment:")) == 1


def hammer(server: RedisServer, prefix: str, processes: int, turns: int, tasks: int) -> list:
    """Run :mod:`testing.lock_hammer` in ``processes`` processes at once; their results."""
    procs = [subprocess.Popen(
        [sys.executable, "-m", "testing.lock_hammer", server.url, prefix, str(turns),
         str(tasks)], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(processes)]
    return [json.loads(p.communicate(timeout=120)[0]) for p in procs]


def test_three_servers_many_turns_never_overlap(redis_server):
    results = hammer(redis_server, "hammer:", processes=3, turns=120, tasks=4)
    assert [r["turns"] for r in results] == [120, 120, 120]
    assert max(r["max_holders"] for r in results) == 1


def test_turns_of_one_process_run_in_arrival_order(redis_server):
    lock_store = store(redis_server, "fifo:")
    order: list[int] = []

    async def turn(i: int) -> None:
        async with lock_store.lock("bob"):
            order.append(i)
            await asyncio.sleep(0.01)

    async def main() -> None:
        tasks = []
        for i in range(8):
            tasks.append(asyncio.create_task(turn(i)))
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert order == list(range(8))


def test_a_killed_holder_frees_the_conversation_after_its_lease(redis_server):
    holder = subprocess.Popen(
        [sys.executable, "-m", "testing.lock_hammer", redis_server.url, "killed:", "hold"],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        lock_store = store(redis_server, "killed:", max_wait_s=0.2)
        # the error names the holder, so its server's log can be read
        with pytest.raises(LockWaitTimeout, match=f"holder {socket.gethostname()}:{holder.pid}"):
            asyncio.run(lock_store.lock("hammered").__aenter__())
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
    lock_store = store(redis_server, "killed:", max_wait_s=20)

    async def take() -> bool:
        async with lock_store.lock("hammered"):
            return True

    assert asyncio.run(take())


def test_a_long_turn_keeps_its_lock_past_the_lease(redis_server, monkeypatch, caplog):
    monkeypatch.setattr(redis_lock_store, "LONG_HOLD_S", 0.5)
    events: list[str] = []
    first, second = (store(redis_server, "long:", lease_ms=150) for _ in range(2))

    async def long_turn() -> None:
        async with first.lock("carol"):
            events.append("first in")
            await asyncio.sleep(0.8)  # more than five leases
            events.append("first out")

    async def other_server() -> None:
        await asyncio.sleep(0.05)
        async with second.lock("carol"):
            events.append("second in")

    async def main() -> None:
        await asyncio.gather(long_turn(), other_server())

    asyncio.run(main())
    assert events == ["first in", "first out", "second in"]
    # the holder's own log says so once, with its process
    [warning] = [r.getMessage() for r in caplog.records if "held for" in r.getMessage()]
    assert warning.startswith("lock of carol held for ")
    assert warning.endswith(f"by this process ({socket.gethostname()}:{os.getpid()})")


class LosesItsCancel(RedisLockStore):
    """Touchline's store whose lease renewal (``EVAL``) takes 100 ms and turns a
    cancellation into a connection error, as a Redis command wrapped in Python 3.10's
    ``asyncio.wait_for`` can lose one (CPython gh-86296)."""

    renewals = 0

    async def _command(self, *args: Any) -> Any:  # noqa: ANN401
        if args[0] == "EVAL" and args[-1] == self.lease_ms:  # a renewal
            self.renewals += 1
            try:
                await asyncio.sleep(0.1)
            except asyncio.CancelledError:
                raise RedisConnectionError("Connection closed by server.") from None
        return await super()._command(*args)


def test_a_turn_ending_during_a_renewal_releases_at_once_and_renews_no_more(redis_server):
    lock_store = LosesItsCancel(EndpointConfig(url=redis_server.url, key_prefix="cancel:",
                                               lease_ms=600))

    async def turn() -> None:
        async with lock_store.lock("erin"):
            await asyncio.sleep(0.25)  # the first renewal (at 200 ms) is still running

    async def main() -> tuple[int, int]:
        await turn()
        renewals = lock_store.renewals
        await asyncio.sleep(0.7)  # three renewals, had it kept going
        return renewals, lock_store.renewals

    # Before the fix the turn never ended (and swallowed the cancellation of a time-out),
    # so it runs in a thread of its own that the test gives up on.
    result: list[tuple[int, int]] = []
    runner = threading.Thread(target=lambda: result.append(asyncio.run(main())), daemon=True)
    runner.start()
    runner.join(10)
    assert result, "the turn never let go of its lock"
    [(at_exit, later)] = result
    assert at_exit == later == 1
    assert redis.Redis.from_url(redis_server.url).get("cancel:erin") is None


def test_redis_down_raises_a_clear_error_soon_then_works_after_restart(redis_server):
    lock_store = store(redis_server, "down:", unavailable_grace_s=0.5)

    async def take() -> str:
        async with lock_store.lock("dave"):
            return "ran"

    assert asyncio.run(take()) == "ran"
    redis_server.stop(kill=True)
    try:
        # a hang would end in asyncio's TimeoutError, not in the store's error
        with pytest.raises(LockStoreUnavailable, match="unreachable") as raised:
            asyncio.run(asyncio.wait_for(take(), 30))
        assert redis_server.url in str(raised.value)
    finally:
        redis_server.start()
    assert asyncio.run(take()) == "ran"


def test_the_store_needs_a_url():
    with pytest.raises(ValueError, match="url"):
        RedisLockStore(EndpointConfig(key_prefix="x"))
    with pytest.raises(ValueError, match="lease_ms"):
        RedisLockStore(EndpointConfig(url="redis://127.0.0.1:1/0", lease_ms=5))

