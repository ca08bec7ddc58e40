"""The event outbox between the tracker store (real PostgreSQL) and a real RabbitMQ node of
this module (the tests stop it), read back by the real event consumer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import aio_pika
import pytest
import rasa.shared.core.events  # noqa: F401  (the pika broker uses it without importing it)
import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.dialogue.event_outbox import ConfirmingPikaEventBroker, Outbox
from bot.dialogue.tracker_store import WindowedSQLTrackerStore
from bot.runtime.endpoints import pika_broker, sql_tracker_store
from bot.runtime.event_consumer import Source, consume
from bot.store.db import session_scope
from bot.store.models import ConversationEvent, EventOutboxMessage, utcnow
from testing.services import PostgresServer, RabbitServer

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory) -> Iterator[RabbitServer]:
    """A RabbitMQ node of this module (never the machine's shared one: tests stop it)."""
    with RabbitServer(tmp_path_factory.mktemp("rabbit")) as server:
        yield server


async def open_store(db_url: str, rabbit_url: str, queue: str
                     ) -> tuple[WindowedSQLTrackerStore, ConfirmingPikaEventBroker]:
    """The tracker store and broker a Rasa server of the production profile makes."""
    broker = await EventBroker.create(EndpointConfig.from_dict(pika_broker(rabbit_url, queue)),
                                      asyncio.get_running_loop())
    assert isinstance(broker, ConfirmingPikaEventBroker)
    store = TrackerStore.create(EndpointConfig.from_dict(sql_tracker_store(db_url)),
                                Domain.empty(), broker)
    assert isinstance(store, WindowedSQLTrackerStore)
    return store, broker


@contextlib.asynccontextmanager
async def consumed_store(db_url: str, rabbit_url: str, queue: str
                         ) -> AsyncIterator[WindowedSQLTrackerStore]:
    """:func:`open_store` with the event consumer running on ``queue``; afterwards the
    consumer is stopped and the outbox and broker closed."""
    stop = asyncio.Event()
    consumer = asyncio.create_task(consume(Source(rabbit_url, queue), db_url, stop))
    store, broker = await open_store(db_url, rabbit_url, queue)
    try:
        yield store
    finally:
        stop.set()
        await consumer
        await store.outbox().close()
        await broker.close()


def turn(sender: str, *texts: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        sender, [UserUttered(t, {"name": "greet"}) for t in texts], slots=[])


def consumed(url: str, sender: str) -> list[str]:
    """Texts the consumer stored for ``sender``, oldest first."""
    with session_scope(url) as session:
        rows = session.scalars(sa.select(ConversationEvent.data)
                               .where(ConversationEvent.sender_id == sender)
                               .order_by(ConversationEvent.timestamp))
        return [json.loads(r)["text"] for r in rows]


def outbox_rows(url: str) -> int:
    with session_scope(url) as session:
        return session.scalar(sa.select(sa.func.count()).select_from(EventOutboxMessage))


async def until(check: object, timeout: float = 60) -> None:
    """Await ``check()`` (polled every 100 ms) being true; fails after ``timeout`` s."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await asyncio.to_thread(check):  # type: ignore[arg-type]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


def test_saved_events_are_published_and_leave_the_outbox(pg_db_url, rabbit):
    queue, sender = f"outbox_{uuid.uuid4().hex[:8]}", "alice"

    async def main() -> None:
        async with consumed_store(pg_db_url, rabbit.url, queue) as store:
            await store.save(turn(sender, "hi", "my card is 4111 1111 1111 1111"))
            await until(lambda: len(consumed(pg_db_url, sender)) == 2)
            await until(lambda: outbox_rows(pg_db_url) == 0)

    asyncio.run(main())
    texts = consumed(pg_db_url, sender)
    assert texts[0] == "hi" and "4111" not in texts[1]


def test_what_a_killed_server_left_is_sent_by_another(pg_db_url, rabbit):
    queue, sender = f"outbox_{uuid.uuid4().hex[:8]}", "bob"

    async def main() -> None:
        async with consumed_store(pg_db_url, rabbit.url, queue) as store:
            # A server killed after its commit: the events and their messages are stored, the
            # messages never sent (the state ``_append`` leaves before ``Outbox.send``).
            store._append(sender, list(turn(sender, "one", "two").events), outboxed=True)
            with store.session_scope() as session:
                session.execute(sa.update(EventOutboxMessage).values(
                    created_at=utcnow() - timedelta(minutes=1)))
                session.commit()
            assert consumed(pg_db_url, sender) == [] and outbox_rows(pg_db_url) == 2
            # Any later turn of this server (or another) starts the sweep.
            assert await store.retrieve("someone else") is None
            await until(lambda: consumed(pg_db_url, sender) == ["one", "two"])
            await until(lambda: outbox_rows(pg_db_url) == 0)

    asyncio.run(main())


def test_rabbitmq_down_keeps_the_turn_and_its_events(pg_db_url, rabbit):
    queue, sender = f"outbox_{uuid.uuid4().hex[:8]}", "carol"

    async def main() -> None:
        store, broker = await open_store(pg_db_url, rabbit.url, queue)
        outbox = store.outbox()
        assert isinstance(outbox, Outbox)
        await asyncio.to_thread(rabbit.stop)
        try:
            await store.save(turn(sender, "while down"))  # the turn itself succeeds
            tracker = await store.retrieve(sender)
            assert tracker is not None and tracker.latest_message.text == "while down"
            await asyncio.sleep(1)
            assert outbox_rows(pg_db_url) == 1, "the message waits in the outbox"
        finally:
            await asyncio.to_thread(rabbit.start)
        stop = asyncio.Event()
        consumer = asyncio.create_task(consume(Source(rabbit.url, queue), pg_db_url, stop))

        async def swept() -> bool:
            """The outbox is empty after a sweep: this one's, or the store's own (every
            SWEEP_S, rows older than GRACE_S: it goes first when RabbitMQ took long to
            restart)."""
            try:
                await outbox.sweep(older_than_s=0)
            except Exception:  # the broker's robust connection still reconnecting
                await asyncio.sleep(0.5)
                return False
            return await asyncio.to_thread(outbox_rows, pg_db_url) == 0

        deadline = asyncio.get_running_loop().time() + 60
        while not await swept():
            assert asyncio.get_running_loop().time() < deadline, "never published"
        await until(lambda: consumed(pg_db_url, sender) == ["while down"])
        assert outbox_rows(pg_db_url) == 0
        stop.set()
        await consumer
        await outbox.close()
        await broker.close()

    asyncio.run(main())


def test_a_database_down_after_the_publish_keeps_the_rows_for_the_sweep(
        rabbit, tmp_path, caplog):
    with PostgresServer(tmp_path / "pg") as pg:
        url = pg.database("outbox")
        queue = f"outbox_{uuid.uuid4().hex[:8]}"

        async def main() -> None:
            store, broker = await open_store(url, rabbit.url, queue)
            outbox = store.outbox()
            assert isinstance(outbox, Outbox)
            _last, messages = store._append("dave", list(turn("dave", "hi").events),
                                            outboxed=True)
            await asyncio.to_thread(pg.stop)
            try:
                await outbox._publish(messages)  # published; the delete fails, not the task
            finally:
                await asyncio.to_thread(pg.start)
            assert outbox_rows(url) == 1, "kept: the sweep sends it again"
            assert await outbox.sweep(older_than_s=0) == 1
            assert outbox_rows(url) == 0
            await broker.close()

        asyncio.run(main())
    assert "could not delete 1 published events" in caplog.text


@pytest.mark.parametrize("broken", ["channel", "connection"])
def test_a_closed_channel_or_connection_is_opened_afresh_for_the_publish(rabbit, broken):
    queue = f"outbox_{uuid.uuid4().hex[:8]}"

    async def main() -> None:
        broker = await EventBroker.create(
            EndpointConfig.from_dict(pika_broker(rabbit.url, queue)),
            asyncio.get_running_loop())
        assert isinstance(broker, ConfirmingPikaEventBroker)
        # What bench/cluster.py found after RabbitMQ restarts: the exchange left on a closed
        # channel (ChannelInvalidStateError), or the robust connection down for good.
        if broken == "channel":
            stale = await broker._connection.transport.connection.channel()
            await stale.close()
            broker._exchange.channel = stale
        else:
            await broker._connection.close()
        await broker.publish_confirmed({"sender_id": "erin", "event": "user", "text": "hi"})
        connection = await aio_pika.connect(rabbit.url)
        channel = await connection.channel()
        message = await (await channel.get_queue(queue)).get(timeout=5)
        assert json.loads(message.body)["text"] == "hi"
        await connection.close()
        await broker.close()

    asyncio.run(main())


def test_rows_another_servers_sweep_holds_never_stall_the_delete(pg_db_url, rabbit):
    queue = f"outbox_{uuid.uuid4().hex[:8]}"

    async def main() -> None:
        store, broker = await open_store(pg_db_url, rabbit.url, queue)
        outbox = store.outbox()
        assert isinstance(outbox, Outbox)
        _last, messages = store._append("fay", list(turn("fay", "a", "b").events),
                                        outboxed=True)
        held_id = messages[0][0]
        sweeping = sa.create_engine(pg_db_url).connect()
        sweep = sweeping.begin()  # another server's sweep holding the first row
        sweeping.execute(sa.select(EventOutboxMessage.id).where(
            EventOutboxMessage.id == held_id).with_for_update(skip_locked=True))
        # A delete that waited for the lock would block this event loop: the "sweep" ends
        # after 15 s from a timer thread, and the delete then takes both rows.
        release = threading.Timer(15, lambda: sweep.is_active and sweep.rollback())
        release.start()
        try:
            await outbox._publish(messages)
            with session_scope(pg_db_url) as session:
                left = session.scalars(sa.select(EventOutboxMessage.id)).all()
            assert left == [held_id], "the free row deleted, the held one left to its sweep"
        finally:
            release.cancel()
            if sweep.is_active:
                sweep.rollback()
            sweeping.close()
        await broker.close()

    asyncio.run(main())
