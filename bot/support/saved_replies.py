"""Saved replies (canned responses) of the agent inbox, with placeholders filled from the
conversation: ``{first_name}`` (the verified customer's first name) and ``{order_number}``
(the order the conversation is about, :func:`bot.support.transcript.what_the_bot_knew`).
A placeholder with nothing to fill it stays as written, so the agent sees what to type."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import SavedReply
from bot.support.transcript import Known

PLACEHOLDER = re.compile(r"\{(first_name|order_number)\}")
"""The placeholders a saved reply may hold."""


class SavedReplyError(ValueError):
    """A saved reply that cannot be stored (empty, too long, title taken)."""


def placeholders(known: Known) -> dict[str, str]:
    """The values of :data:`PLACEHOLDER` for a conversation (only those it knows)."""
    values = {}
    if known.customer is not None and known.customer.get("name"):
        values["first_name"] = str(known.customer["name"]).split()[0]
    if known.orders:
        values["order_number"] = str(known.orders[0]["number"])
    return values


def fill(body: str, values: dict[str, str]) -> str:
    """``body`` with every placeholder ``values`` has replaced (the others kept)."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), body)


def saved_replies(session: Session, values: dict[str, str]) -> list[dict[str, Any]]:
    """Every saved reply by title, ``{"id", "title", "body", "text"}`` (``text``: filled)."""
    rows = session.scalars(select(SavedReply).order_by(SavedReply.title))
    return [{"id": r.id, "title": r.title, "body": r.body, "text": fill(r.body, values)}
            for r in rows]


def add_saved_reply(session: Session, title: str, body: str, agent_id: int) -> SavedReply:
    """Store a saved reply.

    Raises:
        SavedReplyError: empty title or body, title over 100 or body over 4,000
            characters, or a title already used.
    """
    title, body = title.strip(), body.strip()
    if not title or not body or len(title) > 100 or len(body) > 4000:
        raise SavedReplyError("a saved reply has a title (1-100 characters) and a text "
                              "(1-4,000 characters)")
    if session.scalar(select(SavedReply.id).where(SavedReply.title == title)) is not None:
        raise SavedReplyError("a saved reply with that title exists")
    reply = SavedReply(title=title, body=body, created_by=agent_id)
    session.add(reply)
    session.flush()
    return reply
