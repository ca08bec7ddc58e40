"""The agent inbox's view of handoff tickets: the queue, claiming, reassigning, handing
back to the bot, closing with a resolution, and the customer's rating.

Every change of who holds a conversation is one conditional ``UPDATE`` (the condition is
the state the agent saw), so two agents acting at once cannot both win: the database
decides, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.store.models import Agent, Customer, Ticket, utcnow

FILTERS = ("open", "mine", "unassigned", "closed")
"""Queue filters: every open conversation ticket, the agent's own, nobody's, closed ones."""
CLOSED_SHOWN = 50
"""Most closed tickets the ``closed`` filter lists (newest first)."""
TYPING_SHOWN = timedelta(seconds=4)
"""How long after a customer's last keystroke signal the inbox shows them typing (the
widget signals at most every 2 s while the customer types)."""
RATINGS = range(1, 6)
"""A customer's rating of the help: 1 (poor) to 5 (excellent)."""


@dataclass(frozen=True)
class QueueItem:
    """One conversation in the queue.

    Attributes:
        ticket_id: the ticket number.
        conversation_id: Rasa's ``sender_id``.
        customer_id: the verified customer, ``None`` for an anonymous one.
        customer_name: their name, ``None`` when anonymous.
        reason: why the ticket was opened (``handoff``, ``double_charge``...).
        summary: the bot's summary of the conversation before the handoff.
        status: ``open`` or ``closed``.
        takeover: whether the bot is silent (a person holds the conversation).
        agent_id: who claimed it, ``None``: unassigned.
        agent_name: their display name.
        created_at: when the customer asked for a person (naive UTC).
        contact_email: where to reply, when the customer left one.
        rating: the customer's rating after closing, if given.
        customer_typing: the customer is typing in the widget now.
    """

    ticket_id: int
    conversation_id: str
    customer_id: int | None
    customer_name: str | None
    reason: str
    summary: str
    status: str
    takeover: bool
    agent_id: int | None
    agent_name: str | None
    created_at: datetime
    contact_email: str | None
    rating: int | None
    customer_typing: bool


def _rows(session: Session, statement: Any) -> int:  # noqa: ANN401 (an UPDATE)
    """How many rows a conditional ``UPDATE`` changed."""
    return int(session.execute(statement.execution_options(synchronize_session=False)).rowcount)


def _ticket(session: Session, ticket_id: int | None) -> Ticket | None:
    ticket: Ticket | None = session.get(Ticket, ticket_id) if ticket_id is not None else None
    return ticket


def conversation_ticket() -> Any:  # noqa: ANN401 (an SQL expression)
    """SQL condition of a ticket about a whole conversation (a handoff), the inbox's kind."""
    return or_(Ticket.reason == "handoff", Ticket.takeover.is_(True))


def queue(session: Session, which: str, agent_id: int) -> list[QueueItem]:
    """The tickets of one queue filter.

    Args:
        session: open session.
        which: one of :data:`FILTERS`.
        agent_id: the agent asking (for ``mine``).

    Returns:
        Open ones oldest first (longest wait on top); closed ones newest first.

    Raises:
        ValueError: unknown filter.
    """
    if which not in FILTERS:
        raise ValueError(f"filter must be one of {', '.join(FILTERS)}")
    query = (select(Ticket, Customer.name, Agent.name)
             .outerjoin(Customer, Customer.id == Ticket.customer_id)
             .outerjoin(Agent, Agent.id == Ticket.agent_id)
             .where(conversation_ticket()))
    if which == "closed":
        query = query.where(Ticket.status == "closed").order_by(Ticket.id.desc()).limit(
            CLOSED_SHOWN)
    else:
        query = query.where(Ticket.status == "open").order_by(Ticket.id)
        if which == "mine":
            query = query.where(Ticket.agent_id == agent_id)
        elif which == "unassigned":
            query = query.where(Ticket.agent_id.is_(None))
    return [_item(ticket, customer, agent) for ticket, customer, agent in session.execute(query)]


def queue_item(session: Session, ticket_id: int) -> QueueItem | None:
    """One conversation ticket as the queue shows it (``None``: unknown or not a
    conversation ticket)."""
    row = session.execute(
        select(Ticket, Customer.name, Agent.name)
        .outerjoin(Customer, Customer.id == Ticket.customer_id)
        .outerjoin(Agent, Agent.id == Ticket.agent_id)
        .where(Ticket.id == ticket_id, conversation_ticket())
    ).first()
    return None if row is None else _item(*row)


def _item(ticket: Ticket, customer: str | None, agent: str | None) -> QueueItem:
    return QueueItem(ticket.id, ticket.sender_id, ticket.customer_id, customer, ticket.reason,
                     ticket.summary, ticket.status, bool(ticket.takeover), ticket.agent_id,
                     agent, ticket.created_at, ticket.contact_email, ticket.rating,
                     ticket.customer_typing_at is not None
                     and ticket.customer_typing_at > utcnow() - TYPING_SHOWN)


def claim(session: Session, ticket_id: int, agent_id: int) -> bool:
    """Assign an open, unassigned ticket to ``agent_id`` and make sure the bot is silent.

    One ``UPDATE ... WHERE agent_id IS NULL``: of two agents claiming at once exactly one
    changes the row.  Claiming a ticket one already holds is a success too.

    Returns:
        Whether ``agent_id`` holds the ticket now.
    """
    changed = _rows(session,
        update(Ticket).where(Ticket.id == ticket_id, Ticket.status == "open",
                             Ticket.agent_id.is_(None), conversation_ticket())
        .values(agent_id=agent_id, claimed_at=utcnow(), takeover=True)
    )
    if changed == 1:
        return True
    return session.scalar(select(Ticket.id).where(
        Ticket.id == ticket_id, Ticket.status == "open", Ticket.agent_id == agent_id)) is not None


def reassign(session: Session, ticket_id: int, agent_id: int | None) -> bool:
    """Give an open ticket to another agent (``None``: back to unassigned); admins only,
    checked by the caller.

    Returns:
        Whether the ticket exists, is open and the agent exists.
    """
    if agent_id is not None and session.get(Agent, agent_id) is None:
        return False
    return _rows(session,
        update(Ticket).where(Ticket.id == ticket_id, Ticket.status == "open",
                             conversation_ticket())
        .values(agent_id=agent_id, claimed_at=utcnow() if agent_id is not None else None)
    ) == 1


def holds(session: Session, ticket_id: int, agent_id: int) -> Ticket | None:
    """The open ticket if ``agent_id`` holds it (replies, hand-back and closing need that)."""
    held: Ticket | None = session.scalar(select(Ticket).where(
        Ticket.id == ticket_id, Ticket.status == "open", Ticket.agent_id == agent_id))
    return held


def hand_back(session: Session, ticket_id: int, agent_id: int) -> Ticket | None:
    """End the takeover without closing: the bot answers again, the ticket stays open and
    assigned (the agent can take the conversation again by replying).

    Returns:
        The ticket, ``None`` when the agent does not hold it.
    """
    changed = _rows(session,
        update(Ticket).where(Ticket.id == ticket_id, Ticket.status == "open",
                             Ticket.agent_id == agent_id)
        .values(takeover=False)
    )
    return _ticket(session, ticket_id) if changed == 1 else None


def retake(session: Session, ticket: Ticket) -> None:
    """Silence the bot again in a held ticket's conversation (the agent replies after a
    hand-back)."""
    ticket.takeover = True
    session.flush()


def close(session: Session, ticket_id: int, agent_id: int, resolution: str) -> Ticket | None:
    """Close a ticket the agent holds with a resolution note; the takeover ends.

    Args:
        session: open session.
        ticket_id: the ticket.
        agent_id: the agent closing it (must hold it).
        resolution: what was done (non-empty, cut to 4,000 characters).

    Returns:
        The closed ticket, ``None`` when the agent does not hold it (or it is closed).

    Raises:
        ValueError: empty resolution.
    """
    note = resolution.strip()
    if not note:
        raise ValueError("a resolution note is required")
    changed = _rows(session,
        update(Ticket).where(Ticket.id == ticket_id, Ticket.status == "open",
                             Ticket.agent_id == agent_id)
        .values(status="closed", closed_at=utcnow(), takeover=False, resolution=note[:4000])
    )
    return _ticket(session, ticket_id) if changed == 1 else None


def awaiting_rating(session: Session, conversation_id: str) -> Ticket | None:
    """The conversation's latest conversation ticket when it was closed from the inbox and
    is not rated yet (an older one is never rated by a later answer)."""
    latest = _ticket(session, session.scalar(
        select(Ticket.id).where(Ticket.sender_id == conversation_id, conversation_ticket())
        .order_by(Ticket.id.desc()).limit(1)))
    if latest is None or latest.status != "closed" or latest.resolution is None:
        return None
    return latest if latest.rating is None else None


def rate(session: Session, ticket_id: int, rating: int, comment: str) -> bool:
    """Store the customer's rating (once) and comment with a closed ticket.

    Returns:
        Whether it was stored (``False``: already rated, or not closed).

    Raises:
        ValueError: rating outside :data:`RATINGS`.
    """
    if rating not in RATINGS:
        raise ValueError("a rating is 1 to 5")
    return _rows(session,
        update(Ticket).where(Ticket.id == ticket_id, Ticket.status == "closed",
                             Ticket.rating.is_(None))
        .values(rating=rating, rating_comment=comment.strip()[:2000] or None)
    ) == 1


def set_contact_email(session: Session, conversation_id: str, email: str) -> bool:
    """Remember where to reply on the conversation's open handoff ticket.

    Returns:
        Whether an open ticket took it.
    """
    return _rows(session,
        update(Ticket).where(Ticket.sender_id == conversation_id, Ticket.status == "open",
                             conversation_ticket())
        .values(contact_email=email[:254])
    ) > 0


def customer_typing(session: Session, conversation_id: str) -> bool:
    """Record that the customer is typing in the conversation held by an agent.

    Returns:
        Whether an open takeover ticket took it (``False``: nobody holds the conversation).
    """
    return _rows(session,
        update(Ticket).where(Ticket.sender_id == conversation_id, Ticket.status == "open",
                             Ticket.takeover.is_(True))
        .values(customer_typing_at=utcnow())
    ) > 0
