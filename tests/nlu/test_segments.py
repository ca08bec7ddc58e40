"""Sentence splitting of long messages (:mod:`bot.nlu.segments`)."""

from __future__ import annotations

from bot.nlu.segments import MAX_SENTENCES, sentences


def test_a_story_splits_into_its_sentences():
    text = "I moved house last week. How do I change my address? Thanks so much for the help!"
    assert sentences(text) == [
        "I moved house last week.",
        "How do I change my address?",
        "Thanks so much for the help!",
    ]


def test_short_pieces_join_the_next_sentence_or_the_last_one():
    assert sentences("Hi. Ok. Where is my parcel? It is late.") == [
        "Hi. Ok. Where is my parcel?",
        "It is late.",
    ]
    assert sentences("Where is my parcel today?\nThanks!") == []


def test_line_breaks_end_sentences():
    assert sentences("my card was declined twice\nwhat can i do about it") == [
        "my card was declined twice",
        "what can i do about it",
    ]


def test_one_sentence_is_not_split():
    assert sentences("where is my order") == []
    assert sentences("   ") == []
    assert sentences("Dr. Who asked. ") == []


def test_a_pasted_document_keeps_its_first_and_last_sentences():
    text = " ".join(f"This is sentence number {i}." for i in range(100))
    parts = sentences(text)
    assert len(parts) == MAX_SENTENCES
    assert parts[0] == "This is sentence number 0."
    assert parts[-1] == "This is sentence number 99."
