"""Order status look-ups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.customers import normalise_order_number
from bot.store.models import Customer, Order


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


def find_guest_order(session: Session, number: str, email: str) -> OrderStatus | None:
    """An order found the way shops answer guest look-ups: by its number and the e-mail
    address of the account that placed it (case-insensitive); ``None`` when either is
    wrong, so a wrong e-mail tells nothing about the order."""
    order = find_order(session, number)
    if order is None:
        return None
    customer = session.get(Customer, order.customer_id)
    return order if customer is not None and customer.email == email.strip().lower() else None


def customer_orders(session: Session, customer_id: int) -> list[OrderStatus]:
    """The customer's orders, newest first."""
    rows = session.scalars(
        select(Order).where(Order.customer_id == customer_id)
        .order_by(Order.created_at.desc(), Order.id.desc())
    ).all()
    return [OrderStatus(o.number, o.status, o.carrier, o.tracking_number, o.expected_date,
                        o.customer_id) for o in rows]
