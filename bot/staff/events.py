"""Conversation events as the staff pages read them, from any store that keeps them.

:class:`EventSource` is what analytics, review and discovery read: the events of a time
range, conversation by conversation, oldest first. :class:`SQLEventSource` reads Rasa's
SQL tracker-store table ``events`` (columns ``sender_id``, ``type_name``, ``timestamp``,
``intent_name``, ``action_name``, ``data``; the embedded default ``var/tracker.db`` and
:class:`bot.dialogue.tracker_store.WindowedSQLTrackerStore`); an event consumer that
writes Rasa's event JSON to another table serves the same rows through another
implementation of the protocol.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from bot.support.messages import AGENT_KEY

USER, BOT, ACTION = "user", "bot", "action"
"""Rasa's ``type_name`` of user messages, bot messages and executed actions."""


@dataclass(frozen=True)
class ConversationEvent:
    """One stored event, reduced to what the staff pages need.

    Attributes:
        conversation: the Rasa sender id.
        kind: :data:`USER`, :data:`BOT`, :data:`ACTION` or another Rasa ``type_name``.
        at: Unix time in seconds.
        text: message text (user and bot events), as stored (redacted).
        intent: predicted intent of a user message.
        confidence: its confidence in [0, 1].
        action: name of an executed action.
        channel: input channel of a user message (``rest``, ``socketio``, ``telegram``...).
        agent: the agent id of a bot message a person sent from the inbox (metadata
            :data:`bot.support.messages.AGENT_KEY`), else ``None``.
        event_id: the row id in the store (orders events of equal time).
    """

    conversation: str
    kind: str
    at: float
    text: str | None = None
    intent: str | None = None
    confidence: float | None = None
    action: str | None = None
    channel: str | None = None
    agent: str | None = None
    event_id: int = 0


class EventSource(Protocol):
    """Where conversation events are read from."""

    def events(self, start: float, end: float,
               conversation: str | None = None) -> Iterator[ConversationEvent]:
        """Events with ``start <= at < end`` (Unix seconds), grouped by conversation and
        oldest first within one; only ``conversation``'s when given."""
        ...


def from_rasa(sender_id: str, event_id: int, data: dict[str, Any]) -> ConversationEvent:
    """A :class:`ConversationEvent` from Rasa's event JSON (as stored in ``events.data``)."""
    kind = str(data.get("event", ""))
    parse = data.get("parse_data") or {}
    intent = parse.get("intent") or {}
    metadata = data.get("metadata") or {}
    agent = metadata.get(AGENT_KEY) if kind == BOT else None
    if isinstance(agent, dict):  # {"id", "name"} as the inbox writes it
        agent = agent.get("id")
    confidence = intent.get("confidence")
    return ConversationEvent(
        conversation=sender_id, kind=kind, at=float(data.get("timestamp") or 0.0),
        text=data.get("text"), intent=intent.get("name") if kind == USER else None,
        confidence=float(confidence) if kind == USER and confidence is not None else None,
        action=data.get("name") if kind == ACTION else None,
        channel=data.get("input_channel") if kind == USER else None,
        agent=str(agent) if agent is not None else None, event_id=event_id,
    )


class SQLEventSource:
    """Reads Rasa's SQL tracker-store ``events`` table (user, bot and action events)."""

    KINDS = (USER, BOT, ACTION)

    def __init__(self, engine: sa.engine.Engine, table: str = "events") -> None:
        """Args: engine: the tracker store's database; table: its events table."""
        self.engine = engine
        self.table = sa.table(table, sa.column("id"), sa.column("sender_id"),
                              sa.column("type_name"), sa.column("timestamp"),
                              sa.column("data"))

    def events(self, start: float, end: float,
               conversation: str | None = None) -> Iterator[ConversationEvent]:
        """See :meth:`EventSource.events`; rows are streamed, not loaded at once."""
        t = self.table
        where = [t.c.timestamp >= start, t.c.timestamp < end, t.c.type_name.in_(self.KINDS)]
        if conversation is not None:
            where.append(t.c.sender_id == conversation)
        query = (sa.select(t.c.id, t.c.sender_id, t.c.data).where(*where)
                 .order_by(t.c.sender_id, t.c.timestamp, t.c.id))
        with self.engine.connect() as conn:
            for row in conn.execution_options(stream_results=True).execute(query):
                yield from_rasa(row.sender_id, row.id, json.loads(row.data))
