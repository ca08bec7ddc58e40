"""Build rasa-sdk trackers and run actions the way the action server does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.identity.metadata import stamp
from bot.store import customers
from bot.store.db import session_scope


def signed_in(name: str) -> dict[str, Any]:
    """The metadata a channel writes for the demo customer ``name`` (``alice``) after it
    verified their identity token (:func:`bot.identity.metadata.stamp`)."""
    with session_scope() as session:
        return stamp({}, customers.by_sender(session, name).id)


def make_tracker(
    sender: str = "web-0",
    text: str = "",
    intent: str = "greet",
    slots: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    customer: str | None = None,
) -> Tracker:
    """A tracker whose latest user message is ``text``; ``customer``: the demo customer a
    channel verified for it (default: an anonymous visitor)."""
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": []}
    metadata = signed_in(customer) if customer else {}
    events = list(events or []) + [
        {"event": "user", "text": text, "parse_data": latest, "metadata": metadata}]
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
