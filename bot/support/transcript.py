"""A conversation as the agent inbox shows it: every message from the tracker store, and
what the bot knew about the customer beside it.

Reads Rasa's SQL ``events`` table (``TRACKER_DB``, :func:`bot.privacy.conversations.tracker_engine`)
directly, user and bot events only, after a given event id: the inbox polls it for what is
new (customer messages during the takeover included).  Texts are shown as the customer saw
or typed them (:func:`bot.support.display.displayed_text`); the page inserts them as text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.identity.metadata import VERIFIED_CUSTOMER
from bot.store.carts import view_cart
from bot.store.customers import normalise_order_number
from bot.store.models import Customer, Order
from bot.store.orders import find_order
from bot.store.payments import recent_payments
from bot.support.display import displayed_text
from bot.support.messages import AGENT_KEY

PAGE = 500
"""Most messages one read returns (the page asks again for the rest)."""
ORDER_NUMBER = re.compile(r"\bTL[- ]?\d{5}\b", re.IGNORECASE)
"""An order number as customers type it (``TL-10001``, ``tl 10001``)."""

_EVENTS = sa.table("events", sa.column("id"), sa.column("sender_id"), sa.column("type_name"),
                   sa.column("timestamp"), sa.column("data"))


@dataclass(frozen=True)
class Line:
    """One message of the transcript.

    Attributes:
        id: the event's row id (the cursor for the next read).
        author: ``customer``, ``bot`` or ``agent``.
        text: what was shown or typed.
        at: Unix time (seconds).
        agent: the agent's display name, for ``agent`` lines.
        channel: the customer's input channel, for ``customer`` lines.
        customer_id: the verified customer the channel stamped, for ``customer`` lines.
    """

    id: int
    author: str
    text: str
    at: float
    agent: str | None = None
    channel: str | None = None
    customer_id: int | None = None


def read_lines(engine: Engine, conversation_id: str, after: int = 0) -> list[Line]:
    """The conversation's messages after event id ``after``, oldest first (at most
    :data:`PAGE`).  Blocking: call it in a worker thread."""
    query = (sa.select(_EVENTS.c.id, _EVENTS.c.type_name, _EVENTS.c.timestamp, _EVENTS.c.data)
             .where(_EVENTS.c.sender_id == conversation_id, _EVENTS.c.id > after,
                    _EVENTS.c.type_name.in_(("user", "bot")))
             .order_by(_EVENTS.c.id).limit(PAGE))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [line for line in (_line(*row) for row in rows) if line is not None]


def _line(row_id: int, kind: str, at: float, data: str) -> Line | None:
    event: dict[str, Any] = json.loads(data)
    metadata = event.get("metadata") or {}
    if kind == "user":
        verified = metadata.get(VERIFIED_CUSTOMER)
        return Line(row_id, "customer", displayed_text(event.get("text"), metadata), at,
                    channel=event.get("input_channel"),
                    customer_id=verified if isinstance(verified, int) else None)
    text = event.get("text") or ""
    buttons = (event.get("data") or {}).get("buttons") or []
    titles = [b.get("title") for b in buttons if isinstance(b, dict)]
    if titles:
        text = f"{text}\n[" + "] [".join(str(t) for t in titles) + "]"
    if not text:
        return None
    agent = metadata.get(AGENT_KEY)
    name = agent.get("name") if isinstance(agent, dict) else None
    if isinstance(name, str):
        return Line(row_id, "agent", text, at, agent=name)
    return Line(row_id, "bot", text, at)


@dataclass
class Known:
    """What the bot knew about the customer of a conversation.

    Attributes:
        customer: ``{"id", "name", "email"}`` of the verified customer, ``None``: anonymous.
        orders: orders named in the conversation or, for a verified customer, their
            latest: ``{"number", "status", "carrier", "tracking", "expected", "verified"}``
            (``verified``: the order is the verified customer's).
        cart: ``{"lines": [{"title", "quantity", "total"}], "discount_code", "total"}``.
        last_payment: ``{"method", "amount", "status", "decline_code", "at"}``.
    """

    customer: dict[str, Any] | None = None
    orders: list[dict[str, Any]] = field(default_factory=list)
    cart: dict[str, Any] | None = None
    last_payment: dict[str, Any] | None = None


def what_the_bot_knew(session: Session, customer_id: int | None, lines: list[Line]) -> Known:
    """The customer, orders, cart and last payment beside the transcript.

    Args:
        session: open shop database session.
        customer_id: the ticket's customer, else the last one a channel stamped in
            ``lines``; ``None``: anonymous.
        lines: the transcript (order numbers the customer typed are looked up).
    """
    if customer_id is None:
        stamped = [ln.customer_id for ln in lines if ln.customer_id is not None]
        customer_id = stamped[-1] if stamped else None
    known = Known()
    numbers: list[str] = []
    for line in lines:
        if line.author == "customer":
            for match in ORDER_NUMBER.findall(line.text):
                number = normalise_order_number(match)
                if number is not None and number not in numbers:
                    numbers.append(number)
    customer = session.get(Customer, customer_id) if customer_id is not None else None
    if customer is not None:
        known.customer = {"id": customer.id, "name": customer.name, "email": customer.email}
        latest = session.scalar(sa.select(Order.number).where(Order.customer_id == customer.id)
                                .order_by(Order.created_at.desc(), Order.id.desc()).limit(1))
        if latest is not None and latest not in numbers:
            numbers.append(latest)
        cart = view_cart(session, customer.id)
        if cart is not None and cart.lines:
            known.cart = {"lines": [{"title": ln.title, "quantity": ln.quantity,
                                     "total": _money(ln.total)} for ln in cart.lines],
                          "discount_code": cart.discount_code, "total": _money(cart.total)}
        payments = recent_payments(session, customer.id, limit=1)
        if payments:
            p = payments[0]
            known.last_payment = {"method": p.method, "amount": _money(p.amount),
                                  "status": p.status, "decline_code": p.decline_code,
                                  "at": p.created_at.isoformat()}
    for number in numbers[:5]:
        order = find_order(session, number)
        if order is not None:
            known.orders.append({
                "number": order.number, "status": order.status, "carrier": order.carrier,
                "tracking": order.tracking_number,
                "expected": order.expected_date.isoformat() if order.expected_date else None,
                "verified": customer is not None and order.customer_id == customer.id})
    return known


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"
