"""The stored conversations: Rasa's SQL tracker store table ``events`` (``TRACKER_DB``).

Each row is one event of one conversation (``sender_id``), with its Unix ``timestamp``
and the event as JSON in ``data`` (``rasa/core/tracker_store.py``, ``SQLTrackerStore``).
Retention and erasure read and delete whole conversations here; nothing else of
Touchline writes this table but the tracker store (:mod:`bot.dialogue.tracker_store`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.config import PROJECT_ROOT, settings
from bot.identity.metadata import VERIFIED_CUSTOMER

_EVENTS = sa.table("events", sa.column("sender_id"), sa.column("type_name"),
                   sa.column("timestamp"), sa.column("data"))


def tracker_engine(path: str | Path | None = None) -> Engine | None:
    """An engine on the tracker store's database, or ``None`` when it holds no
    conversation yet (no file, or no ``events`` table).

    Args:
        path: the SQLite file (default ``TRACKER_DB``, relative to the repository root as
            ``make run`` and Rasa use it), or a database URL (the production profile's
            PostgreSQL, ``bot/runtime/endpoints.py``).
    """
    where = str(path if path is not None else settings().tracker_db)
    if "://" in where:
        engine = sa.create_engine(where, future=True)
    else:
        file = Path(where) if Path(where).is_absolute() else PROJECT_ROOT / where
        if not file.exists():
            return None
        engine = sa.create_engine(f"sqlite:///{file}", future=True)
    if not sa.inspect(engine).has_table("events"):
        engine.dispose()
        return None
    return engine


def idle_senders(conn: Connection, before: float) -> list[str]:
    """Conversations whose last event is older than ``before``.

    Args:
        conn: connection to the tracker database.
        before: Unix time (seconds).

    Returns:
        Their sender ids, sorted.
    """
    query = (sa.select(_EVENTS.c.sender_id).group_by(_EVENTS.c.sender_id)
             .having(sa.func.max(_EVENTS.c.timestamp) < before).order_by(_EVENTS.c.sender_id))
    return list(conn.execute(query).scalars())


def senders_of_customer(conn: Connection, customer_id: int, texts: Iterable[str]) -> set[str]:
    """Conversations that belong to a customer or mention them.

    Args:
        conn: connection to the tracker database.
        customer_id: conversations where a channel stamped a user message as this
            customer's (:data:`bot.identity.metadata.VERIFIED_CUSTOMER`) or the
            ``customer_id`` slot was set to it count.
        texts: strings whose presence in any event counts (the e-mail address typed into
            a guest order look-up, for example); compared case-insensitively.

    Returns:
        The sender ids.
    """
    found: set[str] = set()
    slot_rows = conn.execute(
        sa.select(_EVENTS.c.sender_id, _EVENTS.c.data).where(
            _EVENTS.c.type_name == "slot", _EVENTS.c.data.like('%"customer_id"%')))
    for sender, data in slot_rows:
        event = json.loads(data)
        if event.get("name") == "customer_id" and str(event.get("value")) == str(customer_id):
            found.add(sender)
    user_rows = conn.execute(
        sa.select(_EVENTS.c.sender_id, _EVENTS.c.data).where(
            _EVENTS.c.type_name == "user", _EVENTS.c.data.like(f'%"{VERIFIED_CUSTOMER}"%')))
    for sender, data in user_rows:
        metadata = json.loads(data).get("metadata") or {}
        if str(metadata.get(VERIFIED_CUSTOMER)) == str(customer_id):
            found.add(sender)
    for text in texts:
        escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        found.update(conn.execute(sa.select(_EVENTS.c.sender_id).distinct().where(
            sa.func.lower(_EVENTS.c.data).like(f"%{escaped}%", escape="\\"))).scalars())
    return found


def delete_conversations(conn: Connection, senders: Iterable[str]) -> int:
    """Delete every event of ``senders``.

    Args:
        conn: connection to the tracker database (the caller commits).
        senders: conversation ids.

    Returns:
        The number of events deleted.
    """
    deleted = 0
    for sender in senders:
        deleted += conn.execute(sa.delete(_EVENTS).where(_EVENTS.c.sender_id == sender)).rowcount
    return deleted
