"""Build rasa-sdk trackers and run actions the way the action server does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher


def make_tracker(
    sender: str = "alice",
    text: str = "",
    intent: str = "greet",
    slots: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": []}
    events = list(events or []) + [{"event": "user", "text": text, "parse_data": latest}]
    return Tracker(sender, slots or {}, latest, events, False, None, {}, "action_listen")


def run_action(action, tracker: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run ``action`` and return ``(messages, events)``."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, {}))
    return dispatcher.messages, events


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or m.get("response") or "" for m in messages)


def slot(events: list[dict[str, Any]], name: str) -> Any:
    values = [e["value"] for e in events if e.get("event") == "slot" and e["name"] == name]
    assert values, f"slot {name} not set in {events}"
    return values[-1]


def followup(events: list[dict[str, Any]]) -> str | None:
    names = [e["name"] for e in events if e.get("event") == "followup"]
    return names[-1] if names else None


@pytest.fixture
def shop(db_url):
    """The seeded database (actions read ``$DATABASE_URL``)."""
    return db_url
