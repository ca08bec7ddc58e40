import pytest

from connectors.sanitize import (
    FALLBACK_PAYLOAD,
    MAX_MESSAGE_CHARS,
    sanitize_message,
    sanitize_text,
)


@pytest.mark.parametrize("text", ["", "   ", "\n\t", None, 42, {"a": 1}])
def test_empty_or_non_text_goes_to_fallback(text):
    assert sanitize_text(text) == (FALLBACK_PAYLOAD, True)


@pytest.mark.parametrize(
    "text",
    [
        "/restart",
        "/human_handoff",
        "/ get started",
        "/no_such_intent",
        '/greet{"name": "x"',
        '/inform{"order_id":"1 OR 1=1"}',
        '/affirm{"order_id": "TL-1"}',
        "/session_start",
    ],
)
def test_untrusted_slash_text_goes_to_fallback(text):
    assert sanitize_text(text)[0] == FALLBACK_PAYLOAD


@pytest.mark.parametrize("intent", ["affirm", "deny", "greet", "thank", "goodbye"])
def test_button_payloads_pass(intent):
    assert sanitize_text(f" /{intent} ") == (f"/{intent}", True)
    assert sanitize_text(f"/{intent}") == (f"/{intent}", False)


def test_plain_text_unchanged_and_long_text_cut():
    assert sanitize_text("where is my order?") == ("where is my order?", False)
    assert sanitize_text("a/b slashes inside are fine") == ("a/b slashes inside are fine", False)
    safe, changed = sanitize_text("x" * 20000)
    assert len(safe) == MAX_MESSAGE_CHARS and changed
    assert sanitize_text("hi\x00there") == ("hithere", True)


def test_lone_surrogates_become_replacement_characters():
    text, metadata = sanitize_message("hi \ud800 there")
    assert text == "hi \ufffd there" and text.encode("utf-8")
    assert metadata["original_text"].encode("utf-8")
