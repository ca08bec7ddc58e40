"""The agent inbox's messages into a conversation (connectors/agent_messages.py): stored with
one INSERT under the conversation's lock, then delivered; never delivered unstored.

Real parts throughout: Touchline's SQL tracker store on SQLite (two store objects on one file
stand for two Rasa processes), the lock store, Rasa's ``CollectingOutputChannel``."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from bot.config import PROJECT_ROOT
from bot.dialogue.lock_store import AsyncioLockStore
from bot.dialogue.tracker_store import WindowedSQLTrackerStore
from bot.support.messages import AGENT_KEY
from connectors.agent_messages import (
    MAX_EVENTS,
    Refused,
    parse_body,
    store_then_deliver,
)

DOMAIN = Domain.load(PROJECT_ROOT / "domain.yml")
AGENT_META = {AGENT_KEY: {"id": 7, "name": "Sam"}}


def store(tmp_path) -> WindowedSQLTrackerStore:
    return WindowedSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "t.db"))


def rasa_agent(tracker_store: WindowedSQLTrackerStore, tmp_path) -> SimpleNamespace:
    """What the route uses of the Rasa server's ``Agent``: its (fail-safe wrapped) tracker
    store and its lock store."""
    return SimpleNamespace(tracker_store=FailSafeTrackerStore(tracker_store),
                           lock_store=AsyncioLockStore(
                               SimpleNamespace(kwargs={"lock_file": tmp_path / "locks"})))


def agent_events(text: str) -> list[dict[str, Any]]:
    return [{"event": "bot", "text": text, "timestamp": time.time(), "metadata": AGENT_META},
            {"event": "slot", "name": "human_takeover", "value": True,
             "timestamp": time.time()}]


async def customer_turn(s: WindowedSQLTrackerStore, sender: str, text: str) -> None:
    tracker = await s.get_or_create_tracker(sender)
    tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}))
    tracker.update(ActionExecuted("action_listen"))
    await s.save(tracker)


def bots(tracker) -> list[str]:
    return [e.text for e in tracker.events if isinstance(e, BotUttered)]


def test_parse_body_takes_bot_and_slot_events_only():
    conversation, channel, events = parse_body(
        {"conversation_id": "web-1", "output_channel": "socketio",
         "events": agent_events("Hello")})
    assert (conversation, channel) == ("web-1", "socketio")
    assert isinstance(events[0], BotUttered) and events[0].metadata == AGENT_META
    assert isinstance(events[1], SlotSet) and events[1].value is True
    good = {"conversation_id": "web-1", "output_channel": "socketio",
            "events": agent_events("x")}
    for bad in ([], {**good, "conversation_id": ""}, {**good, "conversation_id": 5},
                {**good, "output_channel": None}, {**good, "events": []},
                {**good, "events": agent_events("x") * MAX_EVENTS},
                {**good, "events": [{"event": "user", "text": "hi"}]},
                {**good, "events": [{"event": "restart"}]},
                {**good, "events": [{"event": "slot"}]},
                {**good, "events": ["bot"]}):
        with pytest.raises(Refused):
            parse_body(bad)


def test_stored_once_then_delivered_and_seen_by_every_process(tmp_path):
    first, second = store(tmp_path), store(tmp_path)  # two Rasa processes, one database
    out = CollectingOutputChannel()

    async def main():
        await customer_turn(first, "web-1", "a person please")
        await customer_turn(second, "web-1", "hello?")  # both processes hold it cached
        _, _, events = parse_body({"conversation_id": "web-1", "output_channel": "socketio",
                                   "events": agent_events("Hi, Sam here")})
        status, answer = await store_then_deliver(rasa_agent(first, tmp_path), out,
                                                  "web-1", events)
        return status, answer, await first.retrieve("web-1"), await second.retrieve("web-1")

    status, answer, here, there = asyncio.run(main())
    assert status == 200 and answer["stored"] and answer["delivered"]
    assert [m["text"] for m in out.messages] == ["Hi, Sam here"]
    for tracker in (here, there):  # this process's cache and the other's reload
        assert bots(tracker) == ["Hi, Sam here"]
        assert tracker.get_slot("human_takeover") is True
        assert tracker.events[-2].metadata == AGENT_META
    with sa.create_engine(f"sqlite:///{tmp_path / 't.db'}").connect() as conn:
        rows = conn.execute(sa.text("SELECT id, type_name FROM events WHERE sender_id = "
                                    "'web-1' ORDER BY id")).all()
    assert [r.type_name for r in rows][-2:] == ["bot", "slot"]
    assert rows[-1].id == answer["event_id"]


def test_a_message_during_a_turn_waits_for_it_and_neither_is_lost(tmp_path):
    """The agent's message arrives while the customer's turn holds the conversation (between
    Rasa's retrieve and save): it is stored after the turn, and the working tracker this
    process caches afterwards holds both."""
    s = store(tmp_path)
    agent = rasa_agent(s, tmp_path)
    out = CollectingOutputChannel()

    async def main():
        await customer_turn(s, "web-2", "a person please")
        _, _, events = parse_body({"conversation_id": "web-2", "output_channel": "socketio",
                                   "events": agent_events("One moment")})
        async with agent.lock_store.lock("web-2"):  # the customer's turn
            tracker = await s.retrieve("web-2")
            message = asyncio.create_task(store_then_deliver(agent, out, "web-2", events))
            await asyncio.sleep(0.2)
            assert not message.done() and out.messages == []
            tracker.update(UserUttered("are you there?", {"name": "greet", "confidence": 1}))
            tracker.update(ActionExecuted("action_listen"))
            await s.save(tracker)
        status, _ = await message
        return status, await s.retrieve("web-2"), await s.retrieve_full_tracker("web-2")

    status, working, full = asyncio.run(main())
    assert status == 200 and [m["text"] for m in out.messages] == ["One moment"]
    for tracker in (working, full):
        assert bots(tracker) == ["One moment"]
        assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == [
            "a person please", "are you there?"]


def test_a_message_that_cannot_be_stored_is_not_delivered(tmp_path):
    s = store(tmp_path)
    out = CollectingOutputChannel()

    async def main():
        await customer_turn(s, "web-3", "a person please")
        with s.engine.begin() as conn:  # the database refuses the INSERT
            conn.execute(sa.text("CREATE TRIGGER refuse BEFORE INSERT ON events "
                                 "BEGIN SELECT RAISE(ABORT, 'disk full'); END"))
        _, _, events = parse_body({"conversation_id": "web-3", "output_channel": "socketio",
                                   "events": agent_events("Lost?")})
        return await store_then_deliver(rasa_agent(s, tmp_path), out, "web-3", events)

    status, answer = asyncio.run(main())
    assert (status, answer) == (500, {"stored": False})
    assert out.messages == []


class RefusingChannel(OutputChannel):
    """A customer channel that is down (a closed socket, an unreachable chat API)."""

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:  # noqa: ANN401
        raise ConnectionError("channel down")


def test_a_message_the_channel_refuses_is_stored_and_reported(tmp_path):
    s = store(tmp_path)

    async def main():
        await customer_turn(s, "web-4", "a person please")
        _, _, events = parse_body({"conversation_id": "web-4", "output_channel": "socketio",
                                   "events": agent_events("Still stored")})
        status, answer = await store_then_deliver(rasa_agent(s, tmp_path), RefusingChannel(),
                                                  "web-4", events)
        return status, answer, await s.retrieve_full_tracker("web-4")

    status, answer, full = asyncio.run(main())
    assert status == 502 and answer["stored"] is True and answer["delivered"] is False
    assert bots(full) == ["Still stored"]


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory):
    """A RabbitMQ node of this module."""
    from testing.services import RabbitServer

    with RabbitServer(tmp_path_factory.mktemp("rabbit")) as server:
        yield server


@pytest.mark.servers
def test_production_profile_two_servers_postgres_and_the_event_outbox(pg_db_url, rabbit,
                                                                        tmp_path):
    """PostgreSQL tracker store shared by two servers, RabbitMQ behind the event outbox:
    the agent's message is stored once, both servers' working trackers hold it, and the
    event consumer receives it (through the outbox, which is emptied)."""
    import uuid

    from rasa.core.brokers.broker import EventBroker
    from rasa.core.tracker_store import TrackerStore
    from rasa.utils.endpoints import EndpointConfig

    from bot.dialogue.event_outbox import ConfirmingPikaEventBroker
    from bot.runtime.endpoints import pika_broker, sql_tracker_store
    from bot.runtime.event_consumer import Source, consume
    from bot.store.db import session_scope
    from bot.store.models import ConversationEvent, EventOutboxMessage

    queue, sender = f"agent_{uuid.uuid4().hex[:8]}", "web-pg"

    def consumed() -> list[str]:
        with session_scope(pg_db_url) as session:
            rows = session.scalars(sa.select(ConversationEvent.type_name)
                                   .where(ConversationEvent.sender_id == sender))
            return list(rows)

    def outbox_rows() -> int:
        with session_scope(pg_db_url) as session:
            return session.scalar(sa.select(sa.func.count()).select_from(EventOutboxMessage))

    async def until(check, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not await asyncio.to_thread(check):
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.1)

    async def server():
        broker = await EventBroker.create(
            EndpointConfig.from_dict(pika_broker(rabbit.url, queue)),
            asyncio.get_running_loop())
        assert isinstance(broker, ConfirmingPikaEventBroker)
        s = TrackerStore.create(EndpointConfig.from_dict(sql_tracker_store(pg_db_url)),
                                DOMAIN, broker)
        assert isinstance(s, WindowedSQLTrackerStore)
        return s, broker

    async def main():
        stop = asyncio.Event()
        consumer = asyncio.create_task(consume(Source(rabbit.url, queue), pg_db_url, stop))
        (one, broker_one), (two, broker_two) = await server(), await server()
        await customer_turn(one, sender, "a person please")
        await customer_turn(two, sender, "hello?")
        _, _, events = parse_body({"conversation_id": sender, "output_channel": "socketio",
                                   "events": agent_events("Sam here")})
        out = CollectingOutputChannel()
        status, _ = await store_then_deliver(rasa_agent(one, tmp_path), out, sender, events)
        await until(lambda: consumed().count("bot") == 1 and outbox_rows() == 0)
        trackers = [await one.retrieve(sender), await two.retrieve(sender)]
        stop.set()
        await consumer
        for s, broker in ((one, broker_one), (two, broker_two)):
            await s.outbox().close()
            await broker.close()
        return status, out.messages, trackers, await one.retrieve_full_tracker(sender)

    status, messages, trackers, full = asyncio.run(main())
    assert status == 200 and [m["text"] for m in messages] == ["Sam here"]
    for tracker in (*trackers, full):
        assert bots(tracker) == ["Sam here"]
        assert tracker.get_slot("human_takeover") is True
