"""Ticket summaries (``bot/support/summary.py``)."""

from __future__ import annotations

from bot.support.summary import conversation_summary


def test_a_sanitised_message_is_shown_as_the_customer_wrote_it():
    events = [
        {"event": "user", "text": "/nlu_fallback", "metadata": {"original_text": "/restart pls"}},
        {"event": "bot", "text": "Could you say it another way?"},
        {"event": "user", "text": "/nlu_fallback", "metadata": {"original_text": "   "}},
        {"event": "user", "text": "my   cart\nis weird"},
    ]
    assert conversation_summary(events).splitlines() == [
        "Customer: /restart pls",
        "Assistant: Could you say it another way?",
        "Customer: /nlu_fallback",  # nothing to show: the customer sent only blanks
        "Customer: my cart is weird",
    ]


def test_control_characters_stored_by_older_versions_are_never_shown():
    events = [
        {"event": "user", "text": "hithere", "metadata": {"original_text": "hi\x00there"}},
        {"event": "user", "text": "/nlu_fallback",
         "metadata": {"original_text": "/restart\x1b[2J\x07 now\x9f"}},
        {"event": "user", "text": "/affirm", "metadata": {"display_text": "Yes\x00"}},
        {"event": "user", "text": "bell\x07"},
    ]
    assert conversation_summary(events).splitlines() == [
        "Customer: hithere",
        "Customer: /restart[2J now",
        "Customer: Yes",
        "Customer: bell",
    ]


def test_payment_data_never_reaches_the_ticket(env):
    card = "4111 1111 1111 1111"
    events = [
        {"event": "user", "text": f"I was charged twice on {card}, cvv 123",
         "metadata": {"original_text": f"I was charged twice on {card}, cvv 123"}},
        {"event": "user", "text": "refund to GB82 WEST 1234 5698 7654 32, I'm ann@example.com"},
    ]
    assert conversation_summary(events).splitlines() == [
        "Customer: I was charged twice on [card number], cvv [security code]",
        "Customer: refund to [IBAN], I'm ann@example.com",
    ]
    env.set("TOUCHLINE_REDACT_EMAILS", "true")
    assert conversation_summary(events).endswith("I'm [e-mail]")
