"""Bounded, blocking reads of a conversation's messages from Rasa's SQL ``events`` table.

The widget shows a conversation's latest turns when it resumes and older ones on request,
and checks whether a message it was sent again is already stored (the REST channel also
reads what answered it).  Rasa's
``retrieve_full_tracker`` loads and replays every event of the conversation (611 ms for
1,500 turns) on the event loop; these functions read only user and bot events, at most a
page of turns, and are plain blocking functions meant for a worker thread
(``asyncio.to_thread``).  They work on any :class:`rasa.core.tracker_store.SQLTrackerStore`
(so also on :class:`bot.dialogue.tracker_store.WindowedSQLTrackerStore`), whose table has
an index on ``sender_id``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import BotUttered, Event, UserUttered

USER, BOT = UserUttered.type_name, BotUttered.type_name


@dataclass(frozen=True)
class MessagePage:
    """Some consecutive turns of a conversation, oldest first.

    Attributes:
        events: the user and bot events of those turns (bot messages sent before the
            conversation's first user message belong to its first page).
        before: cursor of the next older page (the id of this page's first user event),
            ``None`` when this page reaches the start of the conversation.
    """

    events: list[Event]
    before: int | None


def message_page(store: SQLTrackerStore, sender_id: str, turns: int,
                 before: int | None = None) -> MessagePage:
    """The last ``turns`` turns of ``sender_id`` that start before event id ``before``.

    A turn is a user message and the bot messages after it.  Blocking: call it in a thread.

    Args:
        store: the Rasa server's SQL tracker store.
        sender_id: the conversation id.
        turns: most user messages in the page (at least 1).
        before: a cursor from an earlier page (``None``: the latest turns).

    Returns:
        The page; empty when the conversation has no messages there.
    """
    table = store.SQLEvent.__table__
    mine = [table.c.sender_id == sender_id]
    if before is not None:
        mine.append(table.c.id < before)
    users = (sa.select(table.c.id).where(*mine, table.c.type_name == USER)
             .order_by(table.c.id.desc()).limit(max(turns, 1) + 1))
    with store.engine.connect() as conn:
        starts = conn.execute(users).scalars().all()
        older = len(starts) > max(turns, 1)
        first = starts[-2] if older else None
        rows = sa.select(table.c.data).where(
            *mine, table.c.type_name.in_((USER, BOT)),
            *([table.c.id >= first] if first is not None else []),
        ).order_by(table.c.id)
        events = [Event.from_parameters(json.loads(data))
                  for data in conn.execute(rows).scalars()]
    return MessagePage([e for e in events if e is not None], first)


def _user_message_id(conn: sa.engine.Connection, table: sa.Table, sender_id: str, key: str,
                     value: str) -> int | None:
    """Row id of the first stored user event of ``sender_id`` whose ``metadata[key] ==
    value`` (narrowed with ``LIKE`` on the JSON text, then checked exactly), else ``None``."""
    pattern = "%" + json.dumps(value).replace("\\", "\\\\").replace("%", "\\%").replace(
        "_", "\\_") + "%"
    query = sa.select(table.c.id, table.c.data).where(
        table.c.sender_id == sender_id, table.c.type_name == USER,
        table.c.data.like(pattern, escape="\\"),
    ).order_by(table.c.id)
    for row_id, data in conn.execute(query):
        metadata = json.loads(data).get("metadata") or {}
        if metadata.get(key) == value:
            return int(row_id)
    return None


def has_user_message(store: SQLTrackerStore, sender_id: str, key: str, value: str) -> bool:
    """Whether a stored user event of ``sender_id`` has ``metadata[key] == value``.

    Blocking: call it in a thread.  ``value`` should be a short token (the rows are first
    narrowed with ``LIKE`` on the JSON text, then checked exactly).
    """
    with store.engine.connect() as conn:
        return _user_message_id(conn, store.SQLEvent.__table__, sender_id, key, value) is not None


def replies_after(store: SQLTrackerStore, sender_id: str, key: str, value: str
                  ) -> list[BotUttered] | None:
    """The bot messages that answered the stored user message with ``metadata[key] ==
    value`` (those after it and before the conversation's next user message, oldest
    first), or ``None`` when no such user message is stored.

    Blocking: call it in a thread (see :func:`has_user_message` for ``value``).
    """
    table = store.SQLEvent.__table__
    with store.engine.connect() as conn:
        start = _user_message_id(conn, table, sender_id, key, value)
        if start is None:
            return None
        rows = sa.select(table.c.type_name, table.c.data).where(
            table.c.sender_id == sender_id, table.c.id > start,
            table.c.type_name.in_((USER, BOT)),
        ).order_by(table.c.id)
        replies: list[BotUttered] = []
        for type_name, data in conn.execute(rows):
            if type_name == USER:
                break
            event = Event.from_parameters(json.loads(data))
            if isinstance(event, BotUttered):
                replies.append(event)
    return replies
