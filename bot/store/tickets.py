"""Support tickets and the human-takeover flag of a conversation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import Ticket, utcnow

SUMMARY_MAX_CHARS = 4000


def open_ticket(session: Session, sender_id: str, customer_id: int | None, reason: str,
                summary: str, takeover: bool) -> Ticket:
    """Create an open ticket; ``takeover=True`` silences the bot in the conversation.

    An open takeover ticket of the same conversation is reused rather than duplicated.

    Returns:
        The ticket (``ticket.id`` is the number given to the customer).
    """
    if takeover:
        existing = takeover_ticket(session, sender_id)
        if existing is not None:
            return existing
    ticket = Ticket(sender_id=sender_id, customer_id=customer_id, reason=reason,
                    summary=summary[:SUMMARY_MAX_CHARS], takeover=takeover)
    session.add(ticket)
    session.flush()
    return ticket


def takeover_ticket(session: Session, sender_id: str) -> Ticket | None:
    """The open ticket that keeps a human in charge of ``sender_id``'s conversation."""
    return session.scalar(
        select(Ticket).where(Ticket.sender_id == sender_id, Ticket.status == "open",
                             Ticket.takeover.is_(True))
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
