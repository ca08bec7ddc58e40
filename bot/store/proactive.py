"""What proactive messages need from the shop database: abandoned carts, where a customer
can be reached, reminder opt-outs and the staff's settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store.db import insert_once
from bot.store.models import (
    Cart,
    CartItem,
    Customer,
    ReminderOptOut,
    StaffSetting,
    TelegramAccount,
)


@dataclass(frozen=True)
class IdleCart:
    """A cart with items that nobody changed since ``updated_at`` (naive UTC)."""

    cart_id: int
    customer_id: int
    updated_at: datetime


def idle_carts(session: Session, changed_before: datetime) -> list[IdleCart]:
    """Carts with at least one item, last changed before ``changed_before``, of customers
    who did not opt out of reminders.

    Args:
        session: open session.
        changed_before: naive UTC; carts changed at or after it are still active.

    Returns:
        The carts, oldest change first.
    """
    has_items = select(CartItem.id).where(CartItem.cart_id == Cart.id).exists()
    opted_out = select(ReminderOptOut.customer_id).where(
        ReminderOptOut.customer_id == Cart.customer_id).exists()
    rows = session.execute(
        select(Cart.id, Cart.customer_id, Cart.updated_at)
        .where(Cart.updated_at < changed_before, has_items, ~opted_out)
        .order_by(Cart.updated_at, Cart.id))
    return [IdleCart(r.id, r.customer_id, r.updated_at) for r in rows]


def cart_changed_at(session: Session, cart_id: int) -> datetime | None:
    """When the cart was last changed, ``None`` when it has no items (or is gone)."""
    items = session.scalar(select(func.count(CartItem.id)).where(CartItem.cart_id == cart_id))
    if not items:
        return None
    return session.scalar(select(Cart.updated_at).where(Cart.id == cart_id))


def reachable_chats(session: Session, customer_id: int) -> tuple[str | None, list[int]]:
    """Where the customer can be written to: the chat linked to the account (the widget
    conversation of ``customers.sender_id``) and the linked Telegram chat ids."""
    sender = session.scalar(select(Customer.sender_id).where(Customer.id == customer_id))
    chats = session.scalars(select(TelegramAccount.chat_id).where(
        TelegramAccount.customer_id == customer_id).order_by(TelegramAccount.chat_id))
    return sender, list(chats)


def opt_out(session: Session, customer_id: int) -> bool:
    """Record that the customer wants no more reminders; ``False`` if already recorded."""
    return insert_once(session, ReminderOptOut.__table__, {"customer_id": customer_id,
                                                           "at": datetime.utcnow()},
                       ["customer_id"])


def opted_out(session: Session, customer_id: int) -> bool:
    """Whether the customer asked for no reminders."""
    return session.get(ReminderOptOut, customer_id) is not None


def setting(session: Session, name: str) -> Any:  # noqa: ANN401 (any JSON value)
    """A staff setting's JSON value, ``None`` when never set."""
    row = session.get(StaffSetting, name)
    return None if row is None else row.value


def set_setting(session: Session, name: str, value: Any) -> None:  # noqa: ANN401
    """Store a staff setting (replacing its value)."""
    row = session.get(StaffSetting, name)
    if row is None:
        session.add(StaffSetting(name=name, value=value))
    else:
        row.value = value
    session.flush()
