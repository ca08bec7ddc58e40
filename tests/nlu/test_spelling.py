"""The SpellingCorrector's speller (``bot/nlu/spelling.py``) on its own; the component in a
trained Rasa graph is tested in ``tests/nlu/test_pipeline.py``."""

from __future__ import annotations

import pytest

from bot.nlu.spelling import MAX_LOOKUPS, Speller, encoder_words

TRAINING = [
    "I want to receive my refund",
    "my card was declined",
    "transfer money to my account",
    "where is my order TL-10001",
]


@pytest.fixture(scope="module")
def speller() -> Speller:
    return Speller(Speller.words_of(TRAINING), encoder_words())


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("I want to recieve my reffund", "I want to receive my refund"),
        ("my card was declinned", "my card was declined"),
        ("trasnfer mony to my acount!", "transfer money to my account!"),
    ],
)
def test_typos_are_read_as_training_words(speller, typed, read):
    assert speller.correct(typed) == read


@pytest.mark.parametrize(
    "text",
    [
        "where is my order",  # every word known
        "kab aayega mera parcel",  # transliterated Hindi and English words are left alone
        "zzqx vlorp",  # gibberish near no training word
        "TL-10002 alice@example.com +44 20 7946 0000",  # codes, addresses and digits
        "Спасибо большое 🙏",  # other scripts
        "crad",  # a short word: one edit reaches too many words
        "",
    ],
)
def test_what_is_not_a_typo_of_a_training_word_is_left_alone(speller, text):
    assert speller.correct(text) is None


def test_whole_words_of_the_encoder_are_never_corrected(speller):
    words = encoder_words()
    assert {"receive", "hello", "hai"} <= words and "##ing" not in words
    assert speller.correct_word("received") is None  # English, though close to "receive"


def test_a_long_garbled_message_stops_looking_up_words(speller):
    garbled = " ".join(f"recieve{'x' * (i % 3)}q{i}" for i in range(MAX_LOOKUPS * 4))
    corrected = speller.correct("recieve " + garbled) or ""
    assert corrected.startswith("receive ")
    assert len(corrected.split()) == MAX_LOOKUPS * 4 + 1
