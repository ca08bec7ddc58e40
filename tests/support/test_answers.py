"""What a form answer is: codes offered as codes, e-mails, order numbers, "stop"."""

import pytest

from bot.support.answers import (
    discount_code_in,
    email_in,
    order_number_in,
    wants_to_leave,
    what_it_is,
)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("SUMMER25", "SUMMER25"),
        ("it's spring10", "SPRING10"),
        ("my code is freeship", "FREESHIP"),
        ("code: welcome5 please", "WELCOME5"),
        ("FREESHIP", "FREESHIP"),
        ("use the voucher vip20 on my order", "VIP20"),
        ("I'd like to apply SPRING10 to my basket please", "SPRING10"),
    ],
)
def test_a_code_offered_as_a_code_is_found(text, code):
    assert discount_code_in(text) == code


@pytest.mark.parametrize(
    "text",
    [
        "plok",
        "asdf qwerty zxcv",
        "I have a discount code",
        "I HAVE A DISCOUNT CODE",
        "/nlu_fallback",
        "/affirm",
        "frank@example.com",
        "TL-10001",
        "can you help me with my order please",
        "",
    ],
)
def test_anything_else_is_not_a_code(text):
    assert discount_code_in(text) is None


def test_entities_are_trusted_only_with_a_code_shape():
    assert discount_code_in("freeship", ["freeship"]) == "FREESHIP"
    assert discount_code_in("a code", ["code"]) is None


def test_emails_order_numbers_and_leaving():
    assert email_in("it's Bob@Example.com.") == "Bob@Example.com"
    assert email_in("/nlu_fallback") is None
    assert order_number_in("it's #10001") == "TL-10001"
    assert order_number_in("/x10001") is None
    assert what_it_is("bob@example.com") == "e-mail address"
    assert what_it_is("TL-10001") == "order number"
    assert what_it_is("plok") == ""
    assert all(wants_to_leave(t) for t in ("stop", "Never mind!", "forget it", "cancel"))
    assert not wants_to_leave("stop charging me twice")
