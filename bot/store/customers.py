"""Customer look-ups and the shapes of order numbers and e-mail addresses.

Who the customer of a conversation is, is not decided here: only a channel that verified
an identity token says so (:mod:`bot.identity`)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import Customer

ORDER_NUMBER_RE = re.compile(r"(?i)(?:TL)?[\s#-]*(?<!\d)(\d{5})(?!\d)")
"""Order numbers are ``TL-`` plus 5 digits; customers also type ``tl10042`` or ``#10042``.
Exactly five digits: ``TL-100011`` or a 12-digit card number is no order number (it once
read as ``TL-10001``, someone else's order)."""

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,24}$")


def normalise_order_number(text: str | None) -> str | None:
    """Canonical order number (``TL-10042``) from free text, or ``None`` if none is in it."""
    if not text:
        return None
    match = ORDER_NUMBER_RE.search(text)
    return f"TL-{match.group(1)}" if match else None


def by_sender(session: Session, sender_id: str) -> Customer | None:
    """The demo customer with this short name (``alice``; the ``sender_id`` column)."""
    return session.scalar(select(Customer).where(Customer.sender_id == sender_id))


def by_email(session: Session, email: str) -> Customer | None:
    """The customer with this e-mail (case-insensitive), or ``None`` (also for non-e-mails)."""
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        return None
    return session.scalar(select(Customer).where(Customer.email == email))
