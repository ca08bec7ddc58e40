"""Identity records in the shop database: demo logins, used token ids, failed look-ups."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.store.customers import by_email
from bot.store.db import insert_once
from bot.store.models import Customer, LookupFailure, UsedToken, utcnow
from bot.store.passwords import check_password

LOOKUP_WINDOW = timedelta(hours=1)
"""How long a failed anonymous look-up counts against its keys."""


def authenticate(session: Session, email: str, password: str) -> Customer | None:
    """The customer with this e-mail (case-insensitive) and password, else ``None``."""
    customer = by_email(session, email)
    if customer is None or not check_password(password, customer.password_hash):
        return None
    return customer


def consume_token_id(session: Session, token_id: str, expires_at: int) -> bool:
    """Record that a token was used; ``False`` when it was used before (a replay).

    Ids of tokens expired for a day are deleted on the way.

    Args:
        session: an open session (the insert joins its transaction).
        token_id: the token's ``jti``.
        expires_at: its expiry, Unix seconds.
    """
    now = utcnow()
    session.execute(delete(UsedToken).where(UsedToken.expires_at < now - timedelta(days=1)))
    expiry = datetime.utcfromtimestamp(expires_at)
    return insert_once(session, UsedToken.__table__,
                       {"token_id": token_id, "expires_at": expiry}, ["token_id"])


def lookup_blocked(session: Session, keys: list[str], limit: int) -> bool:
    """Whether any of ``keys`` has ``limit`` or more failed look-ups in the last hour."""
    since = utcnow() - LOOKUP_WINDOW
    for key in keys:
        count = session.scalar(select(func.count()).select_from(LookupFailure).where(
            LookupFailure.key == key, LookupFailure.at >= since))
        if (count or 0) >= limit:
            return True
    return False


def record_lookup_failure(session: Session, keys: list[str]) -> None:
    """Count one failed look-up against each of ``keys`` (older rows are deleted)."""
    session.execute(delete(LookupFailure).where(LookupFailure.at < utcnow() - LOOKUP_WINDOW))
    session.add_all(LookupFailure(key=key[:255]) for key in keys)
