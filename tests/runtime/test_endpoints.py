"""The two profiles of ``endpoints.yml``: what each writes, and the production one loaded
by Rasa's own factories against real PostgreSQL, Redis and RabbitMQ, a tracker saved
through it arriving redacted at the consumer's table."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest
import rasa.shared.core.events  # noqa: F401  (the pika broker uses it without importing it)
import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import read_endpoints_from_path
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.config import Settings
from bot.dialogue.redis_lock_store import RedisLockStore
from bot.runtime.endpoints import (
    Services,
    endpoints_config,
    services_from_settings,
    write_endpoints,
)
from bot.runtime.event_consumer import Source, consume
from bot.store.db import session_scope
from bot.store.models import ConversationEvent
from testing.services import RabbitServer, RedisServer, wait_until

ACTION_URL = "http://127.0.0.1:5055/webhook"


def test_nothing_set_is_the_embedded_profile():
    config = endpoints_config(ACTION_URL, "var/tracker.db",
                              services_from_settings(Settings.from_env({})))
    assert config == {
        "action_endpoint": {"url": ACTION_URL},
        "tracker_store": {"type": "bot.dialogue.tracker_store.WindowedSQLTrackerStore",
                          "dialect": "sqlite", "db": "var/tracker.db"},
        "lock_store": {"type": "bot.dialogue.lock_store.AsyncioLockStore"},
    }


def test_the_environment_chooses_the_production_profile():
    services = services_from_settings(Settings.from_env({
        "DATABASE_URL": "postgresql://shop:s%40cret@db.internal:6432/touchline",
        "REDIS_URL": "redis://cache.internal:6379/1",
        "RABBITMQ_URL": "amqp://rasa:pw@mq.internal:5672/prod",
        "TOUCHLINE_EVENT_QUEUE": "events_eu",
        "TOUCHLINE_MODEL_URL": "http://models.internal/touchline.tar.gz",
    }))
    config = endpoints_config(ACTION_URL, "var/tracker.db", services)
    assert config["tracker_store"] == {
        "type": "bot.dialogue.tracker_store.WindowedSQLTrackerStore", "dialect": "postgresql",
        "url": "db.internal", "port": 6432, "db": "touchline", "username": "shop",
        "password": "s@cret"}
    assert config["lock_store"] == {"type": "bot.dialogue.redis_lock_store.RedisLockStore",
                                    "url": "redis://cache.internal:6379/1",
                                    "key_prefix": "touchline:lock:"}
    assert config["event_broker"]["type"].endswith("ConfirmingPikaEventBroker")
    assert (config["event_broker"]["queues"], config["event_broker"]["exchange_name"]) == (
        ["events_eu"], "events_eu.exchange")
    assert config["models"] == {"url": "http://models.internal/touchline.tar.gz",
                                "wait_time_between_pulls": None}


def test_a_postgresql_tracker_db_wins_over_the_shop_database():
    services = services_from_settings(Settings.from_env({
        "DATABASE_URL": "sqlite:///var/shop.db", "TRACKER_DB": "postgresql://t@h/tracker"}))
    assert services.tracker_url == "postgresql://t@h/tracker"
    assert services.redis_url is None and services.rabbitmq_url is None


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory) -> Iterator[RabbitServer]:
    with RabbitServer(tmp_path_factory.mktemp("rabbit")) as server:
        yield server


@pytest.mark.servers
def test_rasa_loads_the_production_profile_and_events_reach_the_consumer(
        pg_db_url, redis_server, rabbit, tmp_path):
    queue = f"touchline_test_{uuid.uuid4().hex[:8]}"
    path = write_endpoints(tmp_path / "endpoints.yml", ACTION_URL, "unused.db",
                           Services(tracker_url=pg_db_url, redis_url=redis_server.url,
                                    rabbitmq_url=rabbit.url, event_queue=queue))
    assert path.stat().st_mode & 0o077 == 0
    endpoints = read_endpoints_from_path(path)
    sender = f"alice-{uuid.uuid4().hex[:6]}"

    async def main() -> None:
        stop = asyncio.Event()
        consumer = asyncio.create_task(consume(Source(rabbit.url, queue), pg_db_url, stop))
        broker = await EventBroker.create(endpoints.event_broker, asyncio.get_running_loop())
        tracker_store = TrackerStore.create(endpoints.tracker_store, Domain.empty(), broker)
        lock_store = LockStore.create(endpoints.lock_store)
        assert isinstance(lock_store, RedisLockStore)
        assert tracker_store.engine.dialect.name == "postgresql"
        async with lock_store.lock(sender):
            tracker = DialogueStateTracker.from_events(sender, [
                UserUttered("my card is 4111 1111 1111 1111", {"name": "pay"}),
                UserUttered("thanks", {"name": "thank"})], slots=Domain.empty().slots)
            await tracker_store.save(tracker)
        await asyncio.to_thread(wait_until, lambda: len(stored(pg_db_url, sender)) == 2,
                                "events", 60)
        stop.set()
        await consumer
        await broker.close()

    asyncio.run(main())
    rows = stored(pg_db_url, sender)
    texts = [json.loads(r)["text"] for r in rows]
    assert len(texts) == 2 and texts[1] == "thanks"
    assert "4111" not in texts[0], "events leave the tracker store redacted"
    with session_scope(pg_db_url) as session:
        tracked = session.scalar(sa.text("SELECT count(*) FROM events WHERE sender_id = :s"),
                                 {"s": sender})
    assert tracked == 2


def stored(url: str, sender: str) -> list[str]:
    """Stored event JSON of ``sender``, oldest first."""
    with session_scope(url) as session:
        return list(session.scalars(
            sa.select(ConversationEvent.data).where(ConversationEvent.sender_id == sender)
            .order_by(ConversationEvent.timestamp)))
