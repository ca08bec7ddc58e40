"""Order status look-ups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.customers import normalise_order_number
from bot.store.models import Order


@dataclass(frozen=True)
class OrderStatus:
    """What a customer needs to know about an order (``expected_date`` may be ``None``)."""

    number: str
    status: str
    carrier: str | None
    tracking_number: str | None
    expected_date: date | None
    customer_id: int


def find_order(session: Session, number: str) -> OrderStatus | None:
    """Look up an order by number in any accepted spelling; ``None`` when unknown."""
    canonical = normalise_order_number(number)
    if canonical is None:
        return None
    order = session.scalar(select(Order).where(Order.number == canonical))
    if order is None:
        return None
    return OrderStatus(order.number, order.status, order.carrier, order.tracking_number,
                       order.expected_date, order.customer_id)
