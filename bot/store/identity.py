"""Identity records in the shop database: demo logins, used token ids, revoked sign-ins,
failed look-ups, Telegram account links."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.store.customers import by_email
from bot.store.db import insert_once
from bot.store.models import (
    Customer,
    LookupFailure,
    RevokedSignIn,
    TelegramAccount,
    TelegramLink,
    UsedToken,
    utcnow,
)
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


REVOCATION_KEPT = timedelta(minutes=20)
"""How long a revocation is kept: longer than any identity token lives (15 minutes,
``bot.identity.tokens.MAX_LIFETIME_S``, plus its clock-skew leeway), so every token it
voids has expired before the row goes."""


def revoke_sign_in(session: Session, conversation_id: str) -> None:
    """Void every identity token of ``conversation_id`` issued up to now (the shop signed
    the customer out); tokens minted later for the conversation are valid again.

    Args:
        session: an open session (the write joins its transaction).
        conversation_id: the conversation (the tokens' ``sid``), at most 64 characters.
    """
    now = utcnow()
    session.execute(delete(RevokedSignIn).where(RevokedSignIn.revoked_at < now - REVOCATION_KEPT))
    row = session.get(RevokedSignIn, conversation_id[:64])
    if row is None:
        session.add(RevokedSignIn(conversation_id=conversation_id[:64], revoked_at=now))
    else:
        row.revoked_at = now


def sign_in_revoked(session: Session, conversation_id: str, issued_at: int) -> bool:
    """Whether a token of ``conversation_id`` issued at ``issued_at`` (Unix seconds, the
    token's ``iat``) was revoked by :func:`revoke_sign_in`.  ``iat`` has whole seconds, so a
    token issued in the second of the revocation counts as revoked."""
    revoked_at = session.scalar(select(RevokedSignIn.revoked_at).where(
        RevokedSignIn.conversation_id == conversation_id[:64]))
    return revoked_at is not None and datetime.utcfromtimestamp(issued_at) <= revoked_at


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


TELEGRAM_LINK_LIFETIME = timedelta(minutes=10)
"""How long a Telegram deep-link token can be used."""


def create_telegram_link(session: Session, customer_id: int) -> str:
    """A new one-time link token for ``customer_id`` (32 URL-safe characters: Telegram's
    ``start`` parameter allows up to 64 of ``A-Z a-z 0-9 _ -``), valid 10 minutes."""
    token = secrets.token_urlsafe(24)
    session.add(TelegramLink(token=token, customer_id=customer_id,
                             expires_at=utcnow() + TELEGRAM_LINK_LIFETIME))
    return token


def redeem_telegram_link(session: Session, token: str, chat_id: int) -> Customer | None:
    """Link ``chat_id`` to the token's customer and use the token up.

    One conditional update marks the token used, so two chats presenting it at once link
    one of them.  Returns the customer, or ``None`` for an unknown, used or expired token.
    """
    now = utcnow()
    used = session.execute(update(TelegramLink).where(
        TelegramLink.token == token[:64], TelegramLink.used_at.is_(None),
        TelegramLink.expires_at > now).values(used_at=now))
    if used.rowcount != 1:
        return None
    link = session.get(TelegramLink, token[:64])
    account = session.get(TelegramAccount, chat_id)
    if account is None:
        session.add(TelegramAccount(chat_id=chat_id, customer_id=link.customer_id))
    else:
        account.customer_id, account.linked_at = link.customer_id, now
    return session.get(Customer, link.customer_id)


def telegram_customer(session: Session, chat_id: int) -> int | None:
    """The customer the Telegram chat is linked to, ``None`` when it is not."""
    account = session.get(TelegramAccount, chat_id)
    return account.customer_id if account is not None else None


def unlink_telegram(session: Session, chat_id: int) -> bool:
    """Forget the chat's link; ``False`` when there was none."""
    return session.execute(
        delete(TelegramAccount).where(TelegramAccount.chat_id == chat_id)).rowcount == 1
