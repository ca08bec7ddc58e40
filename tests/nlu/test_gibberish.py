"""Gibberish: a message none of whose words is known becomes nlu_fallback
(bot/nlu/spelling.py marks it, bot/nlu/gibberish.py sets the intent)."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.gibberish import GibberishGate
from bot.nlu.spelling import GIBBERISH, Speller, encoder_words

TRAINING = ["where is my order TL-10001", "my card was declined", "show me red lipstick"]


@pytest.fixture(scope="module")
def speller() -> Speller:
    return Speller(Speller.words_of(TRAINING), encoder_words())


@pytest.mark.parametrize("text", ["blorf quandle zix", "vrrrm plok", "zzqx vlorp!"])
def test_messages_of_unknown_words_are_gibberish(speller, text):
    assert speller.is_gibberish(text)


@pytest.mark.parametrize("text", [
    "hmm", "ok", "TL-10001", "12345", "我想买鞋子", "whre is my ordr",  # a typo is known
    "blorf, where is my order?",  # one known word is enough
    "kab aayega mera parcel",
])
def test_messages_with_a_known_word_are_not(speller, text):
    assert not speller.is_gibberish(text)


def test_the_gate_makes_marked_messages_fallback_and_leaves_others():
    marked = Message({TEXT: "blorf", INTENT: {"name": "goodbye", "confidence": 0.7},
                      INTENT_RANKING_KEY: [{"name": "goodbye", "confidence": 0.7}]})
    marked.set(GIBBERISH, True)
    plain = Message({TEXT: "bye", INTENT: {"name": "goodbye", "confidence": 0.9}})
    GibberishGate().process([marked, plain])
    assert marked.get(INTENT) == {"name": "nlu_fallback", "confidence": 1.0}
    assert [r["name"] for r in marked.get(INTENT_RANKING_KEY)] == ["nlu_fallback", "goodbye"]
    assert plain.get(INTENT)["name"] == "goodbye"
