"""Support agents' ticket endpoints: list, read and close tickets.

Closing a takeover ticket hands the conversation back to the assistant on every channel.
Every route needs ``Authorization: Bearer $TOUCHLINE_AGENT_TOKEN`` (ticket summaries hold
customer data); without that variable set the routes answer 503.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query
from pydantic import BaseModel
from sqlalchemy import select

from bot.config import settings
from bot.store.db import session_scope
from bot.store.models import Ticket
from bot.store.tickets import close_ticket

router = APIRouter(prefix="/tickets", tags=["tickets"])


class TicketOut(BaseModel):
    """A ticket as agents see it."""

    id: int
    sender_id: str
    customer_id: int | None
    reason: str
    summary: str
    status: str
    takeover: bool
    created_at: datetime
    closed_at: datetime | None

    class Config:
        orm_mode = True


def require_agent(authorization: str = Header(default="")) -> None:
    """Check the bearer token against ``$TOUCHLINE_AGENT_TOKEN``.

    Raises:
        HTTPException: 503 when no token is configured, 401 when it does not match.
    """
    expected = settings().agent_token
    if not expected:
        raise HTTPException(503, "agent API disabled: set TOUCHLINE_AGENT_TOKEN")
    given = authorization.removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(401, "missing or wrong bearer token")


TicketId = Annotated[int, Path(ge=1, le=2**63 - 1, description="ticket number")]
"""A ticket number within the database's 64-bit integers (a larger one was a 500)."""


@router.get("", response_model=list[TicketOut], dependencies=[Depends(require_agent)])
def list_tickets(status: str = Query("open", pattern="^(open|closed|all)$")) -> list[Ticket]:
    """Tickets with the given status (``open``, ``closed`` or ``all``), newest first."""
    with session_scope() as session:
        query = select(Ticket).order_by(Ticket.id.desc())
        if status != "all":
            query = query.where(Ticket.status == status)
        return list(session.scalars(query))


@router.get("/{ticket_id}", response_model=TicketOut, dependencies=[Depends(require_agent)])
def get_ticket(ticket_id: TicketId) -> Ticket:
    """One ticket; 404 when unknown."""
    with session_scope() as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise HTTPException(404, f"no ticket {ticket_id}")
        return ticket


@router.post("/{ticket_id}/close", response_model=TicketOut,
             dependencies=[Depends(require_agent)])
def close(ticket_id: TicketId) -> Ticket:
    """Close a ticket; the assistant answers that conversation again. 404 when unknown."""
    with session_scope() as session:
        ticket = close_ticket(session, ticket_id)
        if ticket is None:
            raise HTTPException(404, f"no ticket {ticket_id}")
        return ticket
