"""Payment attempts (with their decline codes), accepted methods and double-charge detection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import Customer, Payment, PaymentMethod

DOUBLE_CHARGE_WINDOW = timedelta(minutes=30)
"""Two successful payments of the same amount for one order within this window count as
a double charge."""


@dataclass(frozen=True)
class PaymentAttempt:
    """A payment attempt as shown to the customer (amount in dollars)."""

    id: int
    method: str
    amount: Decimal
    status: str
    decline_code: str | None
    created_at: datetime
    order_id: int | None


def recent_payments(session: Session, customer_id: int, limit: int = 3) -> list[PaymentAttempt]:
    """The customer's latest ``limit`` payment attempts, newest first."""
    rows = session.scalars(
        select(Payment).where(Payment.customer_id == customer_id)
        .order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit)
    ).all()
    return [PaymentAttempt(p.id, p.method, Decimal(p.amount).quantize(Decimal("0.01")),
                           p.status, p.decline_code, p.created_at, p.order_id) for p in rows]


def methods_for_country(session: Session, country: str | None) -> list[str]:
    """Names of the payment methods accepted in ``country`` (ISO alpha-2; ``None`` = all)."""
    methods = session.scalars(select(PaymentMethod).order_by(PaymentMethod.code)).all()
    return [
        m.name for m in methods
        if country is None or "*" in m.countries or country in m.countries
    ]


def find_double_charge(session: Session, customer_id: int) -> tuple[Payment, Payment] | None:
    """Two successful same-amount payments of one order within :data:`DOUBLE_CHARGE_WINDOW`."""
    rows = session.scalars(
        select(Payment).where(Payment.customer_id == customer_id,
                              Payment.status == "succeeded", Payment.order_id.is_not(None))
        .order_by(Payment.created_at)
    ).all()
    for first, second in zip(rows, rows[1:]):
        if (first.order_id == second.order_id and first.amount == second.amount
                and second.created_at - first.created_at <= DOUBLE_CHARGE_WINDOW):
            return first, second
    return None


def customer_country(session: Session, customer_id: int) -> str | None:
    """The customer's country code."""
    customer = session.get(Customer, customer_id)
    return customer.country if customer else None


@dataclass(frozen=True)
class MethodOffer:
    """A payment method and whether the customer's country may use it."""

    code: str
    name: str
    available: bool


def payment_methods(session: Session, country: str | None) -> list[MethodOffer]:
    """Every payment method the shop knows, each marked available or not in ``country``
    (ISO alpha-2; ``None``: available everywhere)."""
    methods = session.scalars(select(PaymentMethod).order_by(PaymentMethod.code)).all()
    return [MethodOffer(m.code, m.name,
                        country is None or "*" in m.countries or country in m.countries)
            for m in methods]
