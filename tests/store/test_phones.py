"""Registered phone numbers and call PINs (bot/store/phones.py)."""

from __future__ import annotations

import pytest

from bot.store import customers
from bot.store.phones import (
    check_pin,
    forget_phone,
    is_registered,
    normalise_phone,
    register_phone,
)


def cid(session, sender: str) -> int:
    return customers.by_sender(session, sender).id


@pytest.mark.parametrize("text, number", [
    ("+44 7700 900123", "+447700900123"), ("+1 (555) 010-0177", "+15550100177"),
    ("+15550177", "+15550177"),
])
def test_numbers_are_normalised_to_e164(text, number):
    assert normalise_phone(text) == number


@pytest.mark.parametrize("text", [
    "", "07700 900123", "+0447700900123", "+1234567", "+1234567890123456", "+44 77OO 900123",
    "+44" + "1" * 500, "+44\u0667700900123",
])
def test_malformed_numbers_are_refused(text):
    with pytest.raises(ValueError, match="phone number"):
        normalise_phone(text)


@pytest.mark.parametrize("pin, why", [
    ("123", "4 to 8"), ("123456789", "4 to 8"), ("12a4", "4 to 8"), ("", "4 to 8"),
    ("\u0664\u0668\u0666\u0662", "4 to 8"), ("1234", "too easy"), ("7777", "too easy"),
])
def test_short_long_non_digit_and_common_pins_are_refused(session, pin, why):
    with pytest.raises(ValueError, match=why):
        register_phone(session, cid(session, "bob"), "+15550177", pin)
    assert not is_registered(session, "+15550177")


def test_the_right_pin_from_the_number_gives_its_customer(session):
    bob, alice = cid(session, "bob"), cid(session, "alice")
    assert register_phone(session, bob, "+1 555 0177", "4862") == "+15550177"
    assert is_registered(session, "+15550177") and not is_registered(session, "+15550178")
    assert check_pin(session, "+15550177", "4862", attempts=5) == bob
    assert check_pin(session, "+15550178", "4862", attempts=5) is None  # another number
    register_phone(session, alice, "+15550177", "9315")  # the number moves to alice
    assert check_pin(session, "+15550177", "4862", attempts=5) is None
    assert check_pin(session, "+15550177", "9315", attempts=5) == alice
    register_phone(session, alice, "+15550199", "9315")  # alice's previous number goes
    assert not is_registered(session, "+15550177")
    assert forget_phone(session, alice) and not forget_phone(session, alice)


def test_wrong_pins_are_limited_per_number_and_hour(session):
    bob = cid(session, "bob")
    register_phone(session, bob, "+15550177", "4862")
    for wrong in ("0000", "x" * 10_000, "48620", "4863"):
        assert check_pin(session, "+15550177", wrong, attempts=4) is None
    assert check_pin(session, "+15550177", "4862", attempts=4) is None  # blocked now
