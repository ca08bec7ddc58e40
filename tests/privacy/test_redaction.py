"""Card numbers, security codes, IBANs (and optionally e-mails and phones) become placeholders;
order numbers, prices, dates and other numbers stay."""

from __future__ import annotations

import logging

import pytest

from bot.privacy.logs import install_log_redaction
from bot.privacy.redaction import Redactor, iban_valid, luhn_valid, redact_ibans

ALWAYS = Redactor()
EVERYTHING = Redactor(emails=True, phones=True)

VISA = "4111111111111111"  # the classic Luhn-valid test card
VISA_BAD = "4111111111111112"  # one digit off: fails Luhn


def test_luhn():
    assert luhn_valid(VISA) and luhn_valid("378282246310005") and luhn_valid("5555555555554444")
    assert not luhn_valid(VISA_BAD) and not luhn_valid("1234567812345678")


@pytest.mark.parametrize("typed", [
    VISA, "4111 1111 1111 1111", "4111-1111-1111-1111", "3782 822463 10005",
    "5555 5555 5555 4444", "6011111111111117", "4222222222222",  # 13-digit Visa
])
def test_a_luhn_valid_card_is_replaced_in_any_grouping(typed):
    assert ALWAYS.text(f"my card {typed} was declined") == "my card [card number] was declined"


@pytest.mark.parametrize("typed", [
    VISA_BAD, "4111 1111 1111 1112", "1234 5678 1234 5678",
    "411111111111",  # 12 digits: too short for a card
    "41111111111111111111",  # 20 digits: too long
    "1733400000001",  # 13-digit epoch milliseconds, Luhn-valid but starts with 1
])
def test_numbers_that_are_not_cards_stay(typed):
    assert luhn_valid("1733400000001")
    fresh = Redactor()  # ALWAYS remembers the cards of the other tests
    assert fresh.text(f"number {typed} here") == f"number {typed} here"


def test_a_card_followed_by_its_code_in_one_run_is_found():
    assert ALWAYS.text(f"{VISA[:4]} {VISA[4:8]} {VISA[8:12]} {VISA[12:]} 123") == (
        "[card number] 123")
    assert ALWAYS.text("card 4111 1111 1111 1111, cvv 123 thanks") == (
        "card [card number], cvv [security code] thanks")


@pytest.mark.parametrize(("typed", "kept"), [
    ("cvv 123", "cvv "), ("CVC: 4567", "CVC: "),
    ("the security code is 321", "the security code is "),
    ("my cvv2 number is 999", "my cvv2 number is "), ("card code 0042", "card code "),
])
def test_a_security_code_after_a_card_word_is_replaced(typed, kept):
    assert ALWAYS.text(typed) == kept + "[security code]"


@pytest.mark.parametrize("typed", [
    "my discount code is SAVE123", "order 123 please", "code 123", "it costs 123 dollars",
])
def test_three_digits_without_a_card_word_stay(typed):
    assert ALWAYS.text(typed) == typed


@pytest.mark.parametrize("typed", [
    "GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432", "DE89370400440532013000",
    "de89 3704 0044 0532 0130 00", "FR1420041010050500013M02606",
])
def test_an_iban_with_a_valid_check_is_replaced(typed):
    assert iban_valid(typed)
    assert ALWAYS.text(f"refund to {typed} please") == "refund to [IBAN] please"


@pytest.mark.parametrize("typed", ["GB82 WEST 1234 5698 7654 33", "DE89370400440532013001",
                                   "TL10001000200030004"])
def test_an_iban_shape_with_a_wrong_check_stays(typed):
    assert not iban_valid(typed)
    assert ALWAYS.text(f"refund to {typed}") == f"refund to {typed}"


@pytest.mark.parametrize("typed", [
    "where is TL-10001?", "it's TL-10042", "it cost $67.49, then $1,234.56 and 1234567.89",
    "expected on 2026-12-01 or 01/12/2026", "at 10:45:12", "tracking JD014600003GB",
    "SUMMER25", "call id CA1234567890abcdef1234567890abcdef", "telegram:123456789",
    "sent 3 items of 4 on 12 12 2026", "192.168.100.200",
])
def test_ordinary_shop_text_stays_even_with_every_option(typed):
    assert EVERYTHING.text(typed) == typed


def test_emails_and_phones_only_when_switched_on():
    typed = "I'm frank@example.com, call me on +44 20 7946 0958 or (555) 123-4567 or 07700 900123"
    assert ALWAYS.text(typed) == typed
    assert EVERYTHING.text(typed) == (
        "I'm [e-mail], call me on [phone number] or [phone number] or [phone number]")
    assert Redactor(emails=True).text(typed).startswith("I'm [e-mail], call me on +44")


def test_values_are_redacted_everywhere_in_json():
    event = {"event": "user", "text": f"card {VISA}", "timestamp": 1.5,
             "metadata": {"original_text": f"card {VISA}", "ids": [VISA, 7]},
             "parse_data": {"text": f"card {VISA}", "entities": []}}
    redacted = ALWAYS.value(event)
    assert VISA not in str(redacted)
    assert redacted["timestamp"] == 1.5 and redacted["metadata"]["ids"] == ["[card number]", 7]
    assert VISA in event["text"]  # the original is not changed


def test_log_records_are_redacted_with_their_arguments_and_tracebacks(caplog):
    previous = logging.getLogRecordFactory()
    install_log_redaction(ALWAYS)
    try:
        log = logging.getLogger("test.privacy")
        with caplog.at_level(logging.INFO):
            log.info("user said %r", f"card {VISA}")
            try:
                raise ValueError(f"bad {VISA}")
            except ValueError:
                log.exception("failed")
        text = caplog.text
        assert "[card number]" in text and "ValueError: bad [card number]" in text
        assert VISA not in text
    finally:
        logging.setLogRecordFactory(previous)


def test_uvicorn_access_log_records_keep_their_arguments():
    """uvicorn's access formatter unpacks ``record.args`` (five values) itself: a record with
    nothing to redact keeps them, and one with a card number in the path gets them redacted
    one by one (clearing them made every API request log '--- Logging error ---')."""
    from uvicorn.logging import AccessFormatter

    previous = logging.getLogRecordFactory()
    install_log_redaction(ALWAYS)
    try:
        formatter = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s')
        log = logging.getLogger("uvicorn.access")
        lines = []
        for path in ("/docs", f"/search?q={VISA}"):
            record = log.makeRecord("uvicorn.access", logging.INFO, __file__, 1,
                                    '%s - "%s %s HTTP/%s" %d',
                                    ("127.0.0.1:5000", "GET", path, "1.1", 200), None)
            lines.append(formatter.format(record))
        assert lines[0] == '127.0.0.1:5000 - "GET /docs HTTP/1.1" 200 OK'
        assert lines[1] == '127.0.0.1:5000 - "GET /search?q=[card number] HTTP/1.1" 200 OK'
    finally:
        logging.setLogRecordFactory(previous)


def test_a_hex_message_id_that_passes_mod_97_is_no_iban():
    """A widget or soak message id (32 hex digits) that passed the mod-97 check by chance was
    stored as '[IBAN]' (found by the soak run); an IBAN needs its country's exact length."""
    message_id = "ed50f03daa2d6ffef589c88901eeb7e6"  # passes ISO 7064 mod-97-10
    rearranged = (message_id[4:] + message_id[:4]).upper()
    assert int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
    assert not iban_valid(message_id)
    assert redact_ibans(f"resend {message_id}") == f"resend {message_id}"
    assert not iban_valid("ab12cd34ef5678901234567890abcdef"[:22])  # "AB" is no country
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and iban_valid("DE89370400440532013000")
    assert not iban_valid("DE8937040044053201300")  # one character short for Germany


def test_part_of_a_card_number_held_by_an_entity_or_a_slot_is_redacted_too():
    """An entity extractor took '4111 1111 1111' out of a story around a card number and a
    slot kept it (found by the fresh-clone make run): no longer a Luhn-valid card on its own,
    it is redacted as part of a card this redactor saw."""
    redactor = Redactor()
    event = {"text": "My card 4111 1111 1111 1111 keeps getting declined.",
             "parse_data": {"entities": [{"entity": "pitch_spot", "value": "4111 1111 1111"}]}}
    stored = redactor.value(event)
    assert stored["text"] == "My card [card number] keeps getting declined."
    assert stored["parse_data"]["entities"][0]["value"] == "[card number]"
    slot = redactor.value({"event": "slot", "name": "pitch_spot", "value": ["4111-1111-1111"]})
    assert slot["value"] == ["[card number]"]
    # Six digits (PCI DSS lets a receipt show the first six) and numbers of no card seen
    # are left alone.
    assert redactor.text("order TL-41111, 111111 points") == "order TL-41111, 111111 points"
    assert redactor.text("ref 1111111") == "ref [card number]"
    assert Redactor().text("4111 1111 1111") == "4111 1111 1111"
    assert redactor.text("call 020 7946 0958") == "call 020 7946 0958"
