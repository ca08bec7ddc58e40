"""Nearest-example similarity and the open-set score (``bot.nlu.neighbours``)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.nlu.neighbours import best_reading, nearest_similarity, open_set_score

REFERENCE = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.0, 2.0]])
LABELS = np.array([0, 0, 1, 1])


def test_similarity_is_to_the_predicted_intents_own_examples():
    query = np.array([[1.0, 0.0], [1.0, 0.0]])
    # the same message is close to intent 0's examples and far from intent 1's
    near = nearest_similarity(REFERENCE, LABELS, query, np.array([0, 1]), k=2)
    assert near[0] == pytest.approx((1.0 + 0.8) / 2)
    assert near[1] == pytest.approx(0.0)


def test_k_is_capped_by_the_intents_examples_and_unknown_intents_give_no_evidence():
    query = np.array([[0.0, 3.0], [0.6, 0.8]])
    near = nearest_similarity(REFERENCE, LABELS, query, np.array([1, 7]), k=10)
    assert near[0] == pytest.approx(1.0)  # both examples of intent 1 point the same way
    assert near[1] == 1.0  # intent 7 has no example
    empty = nearest_similarity(np.zeros((0, 2)), np.zeros(0), query, np.array([1, 1]), k=3)
    assert list(empty) == [1.0, 1.0]
    with pytest.raises(ValueError):
        nearest_similarity(REFERENCE, LABELS, query, np.array([0, 0]), k=0)


def test_open_set_score_discounts_distant_messages_and_weight_zero_is_the_probability():
    p, sim = np.array([0.9, 0.9]), np.array([1.0, 0.5])
    assert list(open_set_score(p, sim, 0.0)) == [0.9, 0.9]
    score = open_set_score(p, sim, 4.0)
    assert score[0] == pytest.approx(0.9) and score[1] == pytest.approx(0.9 * np.exp(-2.0))


def test_a_sentence_replaces_the_whole_message_only_when_its_raised_score_beats_it():
    # 0.8 ** 1.5 = 0.716: the sentence beat the whole message's 0.72 before paying for its
    # several chances, but not after, so the message is read whole with its own score.
    assert best_reading(0.72, np.array([0.5, 0.8]), 1.5) == (None, 0.72)
    index, score = best_reading(0.6, np.array([0.5, 0.8]), 1.5)
    assert index == 1 and score == pytest.approx(0.8**1.5)
    assert best_reading(0.6, np.array([]), 1.5) == (None, 0.6)
    rng = np.random.default_rng(0)
    for _ in range(200):  # never below reading the message whole
        whole, sentences = rng.random(), rng.random(rng.integers(1, 6))
        assert best_reading(whole, sentences, 1.5)[1] >= whole
