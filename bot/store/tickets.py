"""Support tickets and the human-takeover flag of a conversation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from bot.store.db import insert_once
from bot.store.models import Ticket, utcnow

SUMMARY_MAX_CHARS = 4000
OPEN_ONLY = text("status = 'open'")
"""Predicate of the partial unique index ``uq_tickets_open_dedup_key`` (migration 0003)."""


@dataclass(frozen=True)
class OpenedTicket:
    """What :func:`open_ticket` did: the ticket, and whether it is new (``False``: an open
    ticket about the same thing already existed and is returned instead)."""

    ticket: Ticket
    created: bool


def takeover_key(sender_id: str) -> str:
    """Dedup key of a conversation's takeover ticket (one open per conversation)."""
    return f"takeover:{sender_id}"


def open_ticket(session: Session, sender_id: str, customer_id: int | None, reason: str,
                summary: str, takeover: bool, dedup_key: str | None = None) -> OpenedTicket:
    """Open a ticket once per subject; ``takeover=True`` silences the bot in the conversation.

    The ticket is keyed on what it is about: ``dedup_key`` (a takeover ticket defaults to
    :func:`takeover_key`). While a ticket with that key is open, the same request (also
    one arriving at the same moment from another process) gets that ticket back instead of
    a new one: the partial unique index over open tickets decides (:func:`insert_once`).

    Args:
        session: open session; the ticket is part of its transaction.
        sender_id: the conversation id.
        customer_id: the customer, if known.
        reason: ``handoff``, ``double_charge``, ...
        summary: conversation summary for the agent (cut to :data:`SUMMARY_MAX_CHARS`).
        takeover: whether a human takes the conversation over.
        dedup_key: what the ticket is about; ``None`` for a non-takeover ticket that needs
            no guard.

    Returns:
        :class:`OpenedTicket` (``ticket.id`` is the number given to the customer).
    """
    key = dedup_key or (takeover_key(sender_id) if takeover else None)
    values = {"sender_id": sender_id, "customer_id": customer_id, "reason": reason,
              "summary": summary[:SUMMARY_MAX_CHARS], "takeover": takeover, "status": "open",
              "dedup_key": key}
    if key is None:
        ticket = Ticket(**values)
        session.add(ticket)
        session.flush()
        return OpenedTicket(ticket, True)
    created = insert_once(session, Ticket.__table__, values, ["dedup_key"], OPEN_ONLY)
    ticket = session.scalar(
        select(Ticket).where(Ticket.dedup_key == key, Ticket.status == "open")
    )
    if takeover and not ticket.takeover:  # an agent handed it back to the bot: re-arm
        ticket.takeover = True
        session.flush()
    return OpenedTicket(ticket, created)


def takeover_ticket(session: Session, sender_id: str) -> Ticket | None:
    """The open ticket that keeps a human in charge of ``sender_id``'s conversation."""
    return session.scalar(
        select(Ticket).where(Ticket.sender_id == sender_id, Ticket.status == "open",
                             Ticket.takeover.is_(True)).order_by(Ticket.id).limit(1)
    )


def close_ticket(session: Session, ticket_id: int) -> Ticket | None:
    """Close a ticket (the agent is done); the bot answers again. ``None`` if unknown."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    ticket.status = "closed"
    ticket.closed_at = utcnow()
    session.flush()
    return ticket
