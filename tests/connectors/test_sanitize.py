import pytest

from bot.dialogue.rehearsal import REHEARSAL_KEY
from connectors.sanitize import (
    FALLBACK_PAYLOAD,
    MAX_DISPLAY_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_ORIGINAL_CHARS,
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
    assert "original_text" not in metadata  # what people see is the same cleaned text
    _, metadata = sanitize_message("/restart \ud800")
    assert metadata["original_text"] == "/restart \ufffd"


def test_one_step_cleans_both_the_text_rasa_reads_and_the_text_people_see():
    typed = "hi\x00 there\x07\x1b[2J\x7f\x9f\r\nsecond\tline \ud800"
    text, metadata = sanitize_message(typed)
    assert text == "hi there[2J\nsecond\tline \ufffd" and "original_text" not in metadata
    text, metadata = sanitize_message("/restart\x00\x01 now")
    assert text == FALLBACK_PAYLOAD and metadata["original_text"] == "/restart now"
    _, metadata = sanitize_message("x" * 50_000 + "\x00")
    assert len(metadata["original_text"]) == MAX_ORIGINAL_CHARS


def test_display_text_and_typed_text_are_cleaned_and_bounded():
    _, metadata = sanitize_message("/affirm", display=" Yes\x00\x1b please")
    assert metadata["display_text"] == " Yes please"
    _, metadata = sanitize_message("/affirm", display="\x00\x07 ")
    assert "display_text" not in metadata  # nothing visible left
    _, metadata = sanitize_message("/affirm", display="y" * 500)
    assert len(metadata["display_text"]) == MAX_DISPLAY_CHARS
    text, metadata = sanitize_message("/greet", typed="/start@Bot\x00")  # Telegram
    assert text == "/greet" and metadata["original_text"] == "/start@Bot"


def test_a_client_cannot_mark_its_message_as_a_rehearsal():
    _, metadata = sanitize_message("show me shoes", {REHEARSAL_KEY: True, "other": "kept"})
    assert metadata == {"other": "kept"}
