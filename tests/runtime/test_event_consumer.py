"""The event consumer between a real RabbitMQ (a throwaway node: the tests stop it) and
PostgreSQL, fed by Rasa's own ``pika`` event broker configured as the production profile's
``endpoints.yml`` configures it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator

import aio_pika
import pytest
import rasa.shared.core.events  # noqa: F401  (the pika broker uses it without importing it)
import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.config import PROJECT_ROOT
from bot.runtime.endpoints import pika_broker
from bot.runtime.event_consumer import Source, consume, event_key, store_events
from bot.store.db import session_scope
from bot.store.models import ConversationEvent
from bot.store.schema import init_db
from testing.services import PostgresServer, RabbitServer, wait_until

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory) -> Iterator[RabbitServer]:
    """A RabbitMQ node of this module (never the machine's shared one: tests stop it)."""
    with RabbitServer(tmp_path_factory.mktemp("rabbit")) as server:
        yield server


@pytest.fixture
def queue() -> str:
    """A queue (and exchange) name of this test only."""
    return f"touchline_test_{uuid.uuid4().hex[:8]}"


def events(sender: str, n: int) -> list[dict]:
    """``n`` user events of ``sender`` as Rasa's tracker store publishes them."""
    return [{"sender_id": sender, "event": "user", "timestamp": 1_700_000_000 + i / 1000,
             "text": f"message {i}", "parse_data": {"intent": {"name": "greet"}}}
            for i in range(n)]


def stored(url: str) -> list[tuple[str, str]]:
    """``(sender_id, event_key)`` of every stored row."""
    with session_scope(url) as session:
        return [tuple(r) for r in session.execute(
            sa.select(ConversationEvent.sender_id, ConversationEvent.event_key))]


async def publish_with_rasa(url: str, queue: str, batch: list[dict]) -> None:
    """Publish ``batch`` through Rasa 3.6's ``PikaEventBroker`` and close it after every
    publish task finished."""
    config = EndpointConfig.from_dict(pika_broker(url, queue))
    broker = await EventBroker.create(config, asyncio.get_running_loop())
    assert broker is not None and broker.is_ready()
    for event in batch:
        broker.publish(event)
    while broker._background_tasks:  # Rasa publishes in background tasks
        await asyncio.sleep(0.05)
    await broker.close()


def count_rows(url: str) -> int:
    with session_scope(url) as session:
        return session.scalar(sa.select(sa.func.count()).select_from(ConversationEvent))


def test_store_events_is_idempotent(pg_db_url):
    batch = events("alice", 5)
    assert store_events(batch, pg_db_url) == 5
    assert store_events(batch + events("bob", 2), pg_db_url) == 2
    assert sorted(k for _s, k in stored(pg_db_url)) == sorted(
        event_key(e) for e in batch + events("bob", 2))


def test_every_event_rasa_publishes_is_stored_once(rabbit, queue, pg_db_url):
    published = events("alice", 120) + events("bob", 80)

    async def main() -> None:
        stop = asyncio.Event()
        consumer = asyncio.create_task(consume(Source(rabbit.url, queue), pg_db_url, stop))
        await asyncio.sleep(0.5)  # queue declared by the consumer too
        await publish_with_rasa(rabbit.url, queue, published)
        await asyncio.to_thread(wait_until, lambda: count_rows(pg_db_url) >= 200,
                                "200 stored events", 60)
        stop.set()
        await consumer

    asyncio.run(main())
    rows = stored(pg_db_url)
    assert len(rows) == 200
    assert sum(1 for s, _k in rows if s == "alice") == 120


def test_a_killed_consumer_loses_nothing_and_stores_nothing_twice(rabbit, queue, pg_db_url):
    env = {**os.environ, "RABBITMQ_URL": rabbit.url, "TOUCHLINE_EVENT_QUEUE": queue,
           "DATABASE_URL": pg_db_url}

    def start() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "bot.runtime.event_consumer"],
                                cwd=PROJECT_ROOT, env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    consumer = start()
    try:
        published = events("carol", 3000)
        asyncio.run(publish_with_rasa(rabbit.url, queue, published))
        wait_until(lambda: count_rows(pg_db_url) > 0, "first stored events", 60)
        os.killpg(consumer.pid, signal.SIGKILL)  # mid-stream, unacknowledged batch lost
        consumer.wait()
        assert count_rows(pg_db_url) < 3000, "the kill should land mid-stream"
        consumer = start()
        wait_until(lambda: count_rows(pg_db_url) >= 3000, "3000 stored events", 120)
    finally:
        os.killpg(consumer.pid, signal.SIGTERM)
        consumer.wait(30)
    assert count_rows(pg_db_url) == 3000


def test_events_survive_a_rabbitmq_restart(rabbit, queue, pg_db_url):
    """Messages queued while no consumer runs are on disk: a restart of RabbitMQ keeps
    them, and a broker that publishes during the outage republishes after it."""

    async def main() -> None:
        await publish_with_rasa(rabbit.url, queue, events("dave", 50))
        config = EndpointConfig.from_dict({**pika_broker(rabbit.url, queue),
                                           "retry_delay_in_seconds": 0.5})
        broker = await EventBroker.create(config, asyncio.get_running_loop())
        await asyncio.to_thread(rabbit.stop)
        for event in events("erin", 30):
            broker.publish(event)  # RabbitMQ down: Rasa keeps them for the reconnect
        await asyncio.sleep(0.5)
        await asyncio.to_thread(rabbit.start)
        stop = asyncio.Event()
        consumer = asyncio.create_task(consume(Source(rabbit.url, queue), pg_db_url, stop))
        await asyncio.to_thread(wait_until, lambda: count_rows(pg_db_url) >= 80,
                                "80 stored events", 90)
        stop.set()
        await consumer
        await broker.close()

    asyncio.run(main())
    rows = stored(pg_db_url)
    assert (len(rows), sum(1 for s, _k in rows if s == "erin")) == (80, 30)


def test_a_message_that_is_no_event_is_dropped_and_the_rest_stored(rabbit, queue, pg_db_url):
    async def main() -> None:
        stop = asyncio.Event()
        consumer = asyncio.create_task(consume(Source(rabbit.url, queue), pg_db_url, stop))
        await asyncio.sleep(0.5)
        connection = await aio_pika.connect(rabbit.url)
        channel = await connection.channel()
        exchange = await channel.get_exchange(f"{queue}.exchange")
        for body in (b"\xff\xfe not json", b"[1, 2]", b'{"event": "user"}',
                     json.dumps(events("frank", 1)[0]).encode()):
            await exchange.publish(aio_pika.Message(body), "")
        await connection.close()
        await asyncio.to_thread(wait_until, lambda: count_rows(pg_db_url) >= 1, "a row", 30)
        await asyncio.sleep(0.3)
        stop.set()
        await consumer

    asyncio.run(main())
    assert [s for s, _k in stored(pg_db_url)] == ["frank"]


def test_a_batch_held_across_database_and_rabbitmq_restarts_is_stored_once(
        rabbit, queue, tmp_path):
    """The database goes down while a batch is being stored, RabbitMQ restarts meanwhile:
    the batch is stored when the database is back, its acknowledgement on the dead channel
    is given up, RabbitMQ delivers it again and the consumer skips it and goes on."""
    with PostgresServer(tmp_path / "pg") as pg:
        url = pg.database("events")
        init_db(url)

        async def main() -> None:
            stop = asyncio.Event()
            consumer = asyncio.create_task(consume(Source(rabbit.url, queue), url, stop))
            await publish_with_rasa(rabbit.url, queue, events("gina", 40))
            await asyncio.to_thread(wait_until, lambda: count_rows(url) >= 40, "gina", 60)
            await asyncio.to_thread(pg.stop)
            await publish_with_rasa(rabbit.url, queue, events("hank", 40))
            await asyncio.sleep(1.5)  # the consumer holds hank's batch, retrying the write
            await asyncio.to_thread(rabbit.stop)
            await asyncio.to_thread(rabbit.start)
            await asyncio.to_thread(pg.start)
            await asyncio.to_thread(wait_until, lambda: count_rows(url) >= 80, "hank", 90)
            await publish_with_rasa(rabbit.url, queue, events("ivan", 10))
            await asyncio.to_thread(wait_until, lambda: count_rows(url) >= 90, "ivan", 90)
            stop.set()
            await asyncio.wait_for(consumer, 30)  # not stuck on the dead channel

        asyncio.run(main())
        assert count_rows(url) == 90
