"""A real tracker store database to fill with conversations (``tracker``)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from bot.config import PROJECT_ROOT
from bot.dialogue.tracker_store import WindowedSQLTrackerStore

DOMAIN = Domain.load(PROJECT_ROOT / "domain.yml")


class Tracker:
    """The tracker store's SQLite file, written through the real store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.store = WindowedSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(path))

    def conversation(self, sender: str, text: str, age_days: float = 0,
                     slots: dict[str, Any] | None = None,
                     metadata: dict[str, Any] | None = None) -> None:
        """Store one turn of ``sender`` (``text`` typed with ``metadata``, ``slots`` set)
        ``age_days`` ago."""
        when = time.time() - age_days * 86400

        async def save() -> None:
            tracker = await self.store.get_or_create_tracker(sender, append_action_listen=False)
            tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0},
                                       timestamp=when, metadata=metadata))
            for name, value in (slots or {}).items():
                tracker.update(SlotSet(name, value, timestamp=when))
            tracker.update(BotUttered("Hi!", timestamp=when))
            tracker.update(ActionExecuted("action_listen", timestamp=when))
            await self.store.save(tracker)

        asyncio.run(save())

    def senders(self) -> list[str]:
        """Every conversation id in the table, sorted."""
        with sqlite3.connect(self.path) as conn:
            return [row[0] for row in conn.execute(
                "SELECT DISTINCT sender_id FROM events ORDER BY sender_id")]


@pytest.fixture
def tracker(tmp_path, env) -> Tracker:
    """An empty tracker database; ``$TRACKER_DB`` points at it."""
    path = tmp_path / "tracker.db"
    env.set("TRACKER_DB", str(path))
    return Tracker(path)


def dump(path: Path) -> str:
    """Every row of every table of a SQLite file, as text (for searching)."""
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(f"{table}: {row!r}" for table in tables
                         for row in conn.execute(f'SELECT * FROM "{table}"'))


DumpFn = Callable[[Path], str]
