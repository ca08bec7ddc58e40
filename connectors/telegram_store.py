"""What the Telegram channel persists in the project database (restart-safe, shared by workers).

* :class:`TelegramSeenUpdate` (``telegram_seen_updates``): the ``update_id`` of every update
  taken on, so a redelivered update (Telegram retries a webhook call that failed or timed
  out) is processed once.  Telegram keeps an undelivered update for at most 24 hours
  (https://core.telegram.org/bots/api#getting-updates), so rows older than
  :data:`SEEN_TTL` are pruned.  The webhook answers 200 before the turn runs, so Telegram
  never sends the update again: until it is answered the row keeps the update's JSON
  (:func:`first_delivery`, :func:`answered`), and an update whose server died before
  answering it is taken on again by another (:func:`claim_stale`).
* :class:`TelegramButton` (``telegram_buttons``): inline-button payloads by short id.  A
  button's ``callback_data`` is limited to 1-64 bytes
  (https://core.telegram.org/bots/api#inlinekeyboardbutton) while Rasa payloads may be longer
  or non-ASCII, so the bot sends ``b:<id>`` and resolves the id here when the button is tapped.
  Ids are derived from the payload (a SHA-256 prefix), so a payload gets one row however often
  it is sent, and a tap on an old message still resolves.

Both tables are defined in :mod:`bot.store.models`; the Alembic migration creates them.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.store.db import session_scope
from bot.store.models import TelegramButton, TelegramSeenUpdate, utcnow

SEEN_TTL = timedelta(hours=48)
"""How long a processed ``update_id`` is remembered (twice Telegram's redelivery window)."""
PRUNE_EVERY = 256
"""Old seen-update rows are deleted when ``update_id`` is a multiple of this."""
BUTTON_PREFIX = "b:"
"""``callback_data`` of a button sent by this channel: ``b:`` + :func:`button_ref` (18 bytes)."""


def first_delivery(bot_id: int, update_id: int, url: str | None = None,
                   body: str | None = None) -> bool:
    """Record that ``update_id`` is being processed; ``False`` if it was already.

    Args:
        bot_id: the bot's numeric id (update ids are counted per bot).
        update_id: ``Update.update_id`` from Telegram.
        url: database URL, default ``$DATABASE_URL``.
        body: the update's JSON, kept until :func:`answered` (``None``: nothing to take
            on again).

    Returns:
        ``True`` the first time an update id is seen, ``False`` for a redelivery.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: when the database cannot be written.
    """
    try:
        with session_scope(url) as session:
            session.add(TelegramSeenUpdate(bot_id=bot_id, update_id=update_id, body=body,
                                           claimed_at=None if body is None else utcnow()))
            session.flush()
            if update_id % PRUNE_EVERY == 0:
                cutoff: datetime = utcnow() - SEEN_TTL
                session.execute(
                    delete(TelegramSeenUpdate).where(TelegramSeenUpdate.received_at < cutoff)
                )
    except IntegrityError:
        return False
    return True


def answered(bot_id: int, update_id: int, url: str | None = None) -> None:
    """Forget the JSON of an update that has been answered (it is not taken on again).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: when the database cannot be written.
    """
    with session_scope(url) as session:
        session.execute(update(TelegramSeenUpdate).where(
            TelegramSeenUpdate.bot_id == bot_id, TelegramSeenUpdate.update_id == update_id
        ).values(body=None))


def pending(bot_id: int, update_id: int, url: str | None = None) -> bool:
    """Whether the update is still to be answered (its JSON is kept).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: when the database cannot be read.
    """
    with session_scope(url) as session:
        return session.execute(select(TelegramSeenUpdate.body).where(
            TelegramSeenUpdate.bot_id == bot_id, TelegramSeenUpdate.update_id == update_id
        )).scalar() is not None


def claim_stale(bot_id: int, older_than: timedelta, limit: int = 16,
                url: str | None = None) -> list[tuple[int, str]]:
    """Take on again the updates whose current attempt began more than ``older_than`` ago
    and that are not answered (their server died): their attempt restarts now, so another
    server's sweep leaves them alone for ``older_than`` again; rows another transaction
    holds are skipped (``FOR UPDATE SKIP LOCKED`` on PostgreSQL).

    Args:
        bot_id: the bot's numeric id.
        older_than: how long an attempt may take before it counts as abandoned.
        limit: at most this many updates.
        url: database URL, default ``$DATABASE_URL``.

    Returns:
        ``(update_id, JSON)`` of each update taken on, oldest first.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: when the database cannot be written.
    """
    now = utcnow()
    with session_scope(url) as session:
        rows = session.execute(
            select(TelegramSeenUpdate.update_id, TelegramSeenUpdate.body).where(
                TelegramSeenUpdate.bot_id == bot_id, TelegramSeenUpdate.body.is_not(None),
                TelegramSeenUpdate.claimed_at < now - older_than,
            ).order_by(TelegramSeenUpdate.claimed_at).limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if rows:
            session.execute(update(TelegramSeenUpdate).where(
                TelegramSeenUpdate.bot_id == bot_id,
                TelegramSeenUpdate.update_id.in_([r.update_id for r in rows]),
            ).values(claimed_at=now))
    return [(int(r.update_id), str(r.body)) for r in rows]


def button_ref(payload: str) -> str:
    """The 16-character URL-safe id of ``payload`` (first 96 bits of its SHA-256)."""
    digest = hashlib.sha256(payload.encode("utf-8")).digest()[:12]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def store_buttons(payloads: Sequence[str], url: str | None = None) -> list[str]:
    """Persist button payloads and return their ``callback_data`` values, in order.

    Args:
        payloads: Rasa button payloads (any length, any script).
        url: database URL, default ``$DATABASE_URL``.

    Returns:
        ``"b:<ref>"`` for each payload, 18 ASCII bytes.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: when the database cannot be written.
    """
    wanted = {button_ref(p): p for p in payloads}
    for attempt in range(2 if wanted else 0):  # a concurrent insert of the same
        try:  # payload wins the race at most once
            with session_scope(url) as session:
                known = set(
                    session.scalars(select(TelegramButton.ref).where(TelegramButton.ref.in_(wanted)))
                )
                session.add_all(TelegramButton(ref=ref, payload=p)
                                for ref, p in wanted.items() if ref not in known)
            break
        except IntegrityError:
            if attempt:
                raise
    return [BUTTON_PREFIX + button_ref(p) for p in payloads]


def resolve_button(callback_data: str | None, url: str | None = None) -> str | None:
    """The payload behind a tapped button's ``callback_data``; ``None`` if unknown.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: when the database cannot be read.
    """
    if not callback_data or not callback_data.startswith(BUTTON_PREFIX):
        return None
    with session_scope(url) as session:
        row = session.get(TelegramButton, callback_data[len(BUTTON_PREFIX):])
        return None if row is None else row.payload
