"""Phone numbers customers registered, and the PIN a call from one must key in.

Caller ID can be spoofed, so a registered number alone never identifies a caller: the
voice channel asks a call from it for the PIN (keyed on the phone's keypad) and only a
matching PIN makes the call the customer's (:func:`check_pin`).  Failed PINs count against
the number in ``lookup_failures`` (key ``phone:<number>``), so guessing is rate-limited
like anonymous order look-ups.
"""

from __future__ import annotations

import re

from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.store.identity import lookup_blocked, record_lookup_failure
from bot.store.models import CustomerPhone
from bot.store.passwords import check_password, hash_password

PHONE = re.compile(r"\+[1-9][0-9]{7,14}")
"""An E.164 number (ITU-T E.164: at most 15 digits after ``+``), as Twilio sends ``From``."""
PIN = re.compile(r"[0-9]{4,8}")
"""A call PIN: 4 to 8 digits, keyed on the phone's keypad."""
WEAK_PINS = {"0000", "1111", "1234", "12345", "123456", "4321", "2580", "9999"}
"""PINs refused at registration (the most common ones, guessed first)."""


def normalise_phone(text: str) -> str:
    """``text`` as an E.164 number: spaces, dashes, dots and brackets dropped.

    Raises:
        ValueError: not an E.164 number (``+``, country code, 8 to 15 digits in all).
    """
    phone = re.sub(r"[\s().-]", "", text)[:32]
    if not PHONE.fullmatch(phone):
        raise ValueError("a phone number is + and 8 to 15 digits with the country code, "
                         "e.g. +44 7700 900123")
    return phone


def register_phone(session: Session, customer_id: int, phone: str, pin: str) -> str:
    """Register ``phone`` with call PIN ``pin`` for ``customer_id`` (replacing the
    customer's previous number, and taking the number from another customer who had it).

    Returns:
        The number in E.164.

    Raises:
        ValueError: a malformed number, or a PIN that is not 4 to 8 digits or too common.
    """
    number = normalise_phone(phone)
    if not PIN.fullmatch(pin):
        raise ValueError("a PIN is 4 to 8 digits")
    if pin in WEAK_PINS or len(set(pin)) == 1:
        raise ValueError("that PIN is too easy to guess")
    session.execute(delete(CustomerPhone).where(
        (CustomerPhone.customer_id == customer_id) | (CustomerPhone.phone == number)))
    session.add(CustomerPhone(phone=number, customer_id=customer_id,
                              pin_hash=hash_password(pin)))
    return number


def forget_phone(session: Session, customer_id: int) -> bool:
    """Remove the customer's registered number; ``False`` when there was none."""
    return session.execute(delete(CustomerPhone).where(
        CustomerPhone.customer_id == customer_id)).rowcount == 1


def is_registered(session: Session, phone: str) -> bool:
    """Whether ``phone`` (E.164, as the caller ID says) is a registered number."""
    return session.get(CustomerPhone, phone[:16]) is not None


def check_pin(session: Session, phone: str, pin: str, attempts: int) -> int | None:
    """The customer of ``phone`` when ``pin`` is its PIN, else ``None`` (the failure is
    counted; after ``attempts`` failures in an hour the number's PINs are refused for that
    hour, right or wrong).

    Args:
        session: an open session (the count joins its transaction).
        phone: the caller's number (E.164).
        pin: the digits keyed.
        attempts: failures allowed per number and hour (``$TOUCHLINE_LOOKUP_ATTEMPTS``).
    """
    key = f"phone:{phone[:16]}"
    if lookup_blocked(session, [key], attempts):
        return None
    row = session.get(CustomerPhone, phone[:16])
    if row is not None and PIN.fullmatch(pin) and check_password(pin, row.pin_hash):
        return int(row.customer_id)
    record_lookup_failure(session, [key])
    return None
