"""The open-intent protocol of ``python -m bench.nlu --open`` (``bench/open_intent.py``)."""

from __future__ import annotations

import random

import pytest

from bench import open_intent

TRAIN = [(f"{intent} example {i}", intent) for intent in "abcdefgh" for i in range(30)] + [
    ("what is the weather", "oos")
]
TEST = [(f"{intent} test {i}", intent) for intent in "abcdefgh" for i in range(5)] + [
    ("sing me a song", "oos")
]


def test_draws_are_seeded_and_sized():
    intents = sorted("abcdefgh")
    first = open_intent.draw_known(intents, 0.25, 5, 0)
    assert first == open_intent.draw_known(intents, 0.25, 5, 0)
    assert all(len(d) == 2 for d in first) and len({tuple(d) for d in first}) > 1


def test_training_rows_never_hold_an_unknown_intent_or_out_of_scope():
    for known in open_intent.draw_known(sorted("abcdefgh"), 0.5, 5, 0):
        for shots in (None, 10):
            split = open_intent.open_split(TRAIN, TEST, known, shots, 0, {"oos"})
            assert {label for _, label in split.train} == set(known)
            per_intent = 30 if shots is None else shots
            assert len(split.train) == per_intent * len(known)
            truth = dict(split.test)
            assert truth["sing me a song"] == open_intent.OPEN
            for text, label in TEST:
                assert truth[text] == (label if label in known else open_intent.OPEN)


def test_metrics_count_every_other_prediction_as_open():
    truth = ["a", "a", "b", open_intent.OPEN, open_intent.OPEN]
    predicted = ["a", "nlu_fallback", "b", "nlu_fallback", "a"]
    m = open_intent.open_metrics(truth, predicted)
    assert m["accuracy"] == 60.0 and round(m["known_accuracy"], 6) == round(200 / 3, 6)
    assert m["open_recall"] == 50.0


def test_noise_is_fixed_by_its_seed_and_changes_a_share_of_words():
    text = "my payment was declined again yesterday evening please help quickly"
    noisy = [open_intent.add_typos(text, random.Random(3)) for _ in range(2)]
    assert noisy[0] == noisy[1] != text
    changed = sum(a != b for a, b in zip(text.split(), noisy[0].split()))
    assert 1 <= changed <= 6
    assert open_intent.flatten("Where's my ORDER, TL-10001?!") == "wheres my order tl10001"


def test_the_ceiling_is_the_best_single_threshold_and_no_threshold_answers_every_row():
    truth = ["a", "a", "b", open_intent.OPEN, open_intent.OPEN]
    # The open rows score low, the known rows high but one of them wrongly: a threshold of
    # 0.5 rejects both open rows and keeps every known one (4 of 5 right, the wrong "b").
    best = [("a", 0.9, False), ("a", 0.8, False), ("a", 0.7, False), ("a", 0.2, False),
            ("b", 0.3, False)]
    bound = open_intent.open_ceiling(truth, best)
    assert bound["max_accuracy"] == pytest.approx(80.0)
    assert bound["no_threshold_accuracy"] == pytest.approx(40.0)
    assert bound["max_macro_f1"] >= bound["no_threshold_macro_f1"]
    # An out-of-scope intent ranked first is open whatever the threshold.
    flagged = [(name, c, i == 0) for i, (name, c, _) in enumerate(best)]
    assert open_intent.open_ceiling(truth, flagged)["max_accuracy"] == pytest.approx(60.0)
