"""The windowed tracker store on PostgreSQL (the production profile) across a restart of
the database: the pooled connections die with it, the next turn must not."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.exc import OperationalError

from bot.dialogue.tracker_store import WindowedSQLTrackerStore, strict_failsafe
from bot.runtime.endpoints import sql_tracker_store
from testing.services import PostgresServer

pytestmark = pytest.mark.servers


@pytest.fixture
def postgres(tmp_path) -> Iterator[PostgresServer]:
    """A PostgreSQL of this test (it is restarted)."""
    with PostgresServer(tmp_path / "pg") as server:
        yield server


def test_a_turn_after_a_postgresql_restart_finds_its_tracker(postgres):
    config = sql_tracker_store(postgres.database("tracker"))  # as endpoints.yml has it
    config.pop("type")
    store = WindowedSQLTrackerStore(domain=Domain.empty(),
                                    host=config.pop("url", None), **config)
    assert store.engine.dialect.name == "postgresql"

    async def turn(text: str) -> int:
        tracker = await store.retrieve("alice") or DialogueStateTracker("alice", [])
        tracker.update(UserUttered(text, {"name": "greet"}))
        await store.save(tracker)
        full = await store.retrieve_full_tracker("alice")
        return sum(1 for e in full.events if isinstance(e, UserUttered))

    assert asyncio.run(turn("hi")) == 1
    postgres.stop()
    postgres.start()
    assert asyncio.run(turn("hello again")) == 2


def test_a_database_down_fails_the_turn_instead_of_forgetting_it(postgres):
    config = sql_tracker_store(postgres.database("tracker"))
    config.pop("type")
    store = WindowedSQLTrackerStore(domain=Domain.empty(),
                                    host=config.pop("url", None), **config)
    failsafe = FailSafeTrackerStore(store)  # what rasa.core.agent wraps every store in
    tracker = DialogueStateTracker("bob", [])
    tracker.update(UserUttered("hi", {"name": "greet"}))
    postgres.stop()
    saved = (FailSafeTrackerStore.on_tracker_store_error,
             FailSafeTrackerStore.on_tracker_store_retrieve_error)
    try:
        asyncio.run(failsafe.save(tracker))  # Rasa's own: "saved" in this process's memory
        strict_failsafe()
        with pytest.raises(OperationalError):
            asyncio.run(failsafe.save(tracker))
        with pytest.raises(OperationalError):
            asyncio.run(failsafe.retrieve("bob"))
    finally:
        (FailSafeTrackerStore.on_tracker_store_error,
         FailSafeTrackerStore.on_tracker_store_retrieve_error) = saved
        postgres.start()
