"""Adaptive end of turn: which early transcripts read as finished requests."""

from __future__ import annotations

import pytest

from bot.speech.turn_end import complete_request


@pytest.mark.parametrize("text", [
    "I have a problem with my payment.",
    "Where is my order?",
    "My order number is 10001.",
    "Talk to a person!",
    "What is my order number?",
])
def test_finished_requests(text):
    assert complete_request(text)


@pytest.mark.parametrize("text", [
    "My order number is",
    "My order number is.",
    "My order number.",
    "My order number is...",
    "I want to return the",
    "Can you check my order number…",
    "Hi,",
    "",
    "   ",
])
def test_requests_stopped_mid_phrase(text):
    assert not complete_request(text)


@pytest.mark.parametrize("text", [
    "as order ten thousand two been shipped yet",
    "I have a problem with my payment",
])
def test_an_unpunctuated_transcript_is_finished_when_nlu_understood_it(text):
    assert complete_request(text, understood=True)
    assert not complete_request(text)


@pytest.mark.parametrize("text", ["My order number is", "My order number", "Hi,",
                                  "I want to return the", "Check my order…"])
def test_nlu_does_not_finish_a_phrase_stopped_midway(text):
    assert not complete_request(text, understood=True)
