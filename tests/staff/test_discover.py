"""New-intent discovery: clustering, names, trends, and the real sentence encoder end to end."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from bot.staff.discover import (
    Unanswered,
    calibrate_threshold,
    cluster_labels,
    daily_counts,
    discover,
    distinctive_words,
    intent_name,
    minilm_embedder,
    slope,
)


def blobs(centres: int, per: int, dim: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``per`` points around each of ``centres`` random unit vectors (tight blobs)."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(centres, dim))
    points = np.repeat(means, per, axis=0) + 0.05 * rng.normal(size=(centres * per, dim))
    return points, np.repeat(np.arange(centres), per)


@pytest.mark.parametrize("centres", [2, 5, 9])
def test_the_number_of_clusters_is_found_without_being_told(centres):
    points, truth = blobs(centres, 8)
    labels = cluster_labels(points)
    assert len(set(labels.tolist())) == centres
    assert adjusted_rand_score(truth, labels) == 1.0


def test_a_given_number_of_clusters_is_kept():
    points, _ = blobs(5, 8)
    assert len(set(cluster_labels(points, 3).tolist())) == 3


def test_one_or_no_message_and_the_threshold_is_calibrated_on_known_intents():
    assert cluster_labels(np.ones((1, 4))).tolist() == [0]
    assert cluster_labels(np.zeros((0, 4))).tolist() == []
    points, truth = blobs(6, 20)
    intents = [f"intent_{t}" for t in truth]
    best = calibrate_threshold(points, intents)
    assert adjusted_rand_score(truth, cluster_labels(points, threshold=best)) == 1.0
    assert len(set(cluster_labels(points, threshold=0.01).tolist())) > 6  # too low: split


def test_names_come_from_the_words_that_set_a_cluster_apart():
    texts = ["my gift card balance", "gift card has no balance", "check gift card",
             "where is my parcel", "parcel not arrived", "my parcel is late"]
    words = distinctive_words(texts, np.array([0, 0, 0, 1, 1, 1]), top=2)
    assert words[0] == ["gift", "card"] or words[0] == ["card", "gift"]
    assert words[1][0] == "parcel"
    assert intent_name(["gift", "card", "balance", "left"]) == "gift_card_balance"
    assert intent_name([]) == "new_intent"
    assert intent_name(["it's", "o'clock"]) == "its_oclock"


def test_daily_counts_and_trend():
    start = date(2026, 11, 1)
    times = [datetime(2026, 11, 1, 10, tzinfo=timezone.utc)] + [
        datetime(2026, 11, 3, h, tzinfo=timezone.utc) for h in range(3)
    ] + [datetime(2026, 12, 9, tzinfo=timezone.utc)]  # outside the range: ignored
    assert daily_counts(times, start, date(2026, 11, 3)) == [1, 0, 3]
    assert slope([1, 0, 3]) == pytest.approx(1.0)
    assert slope([5]) == 0.0


GIFT = ["do you sell gift cards", "can I buy a gift card for my brother",
        "gift vouchers available?", "how much is a gift card", "I want a gift card for 50 euros",
        "where can I get a gift voucher"]
HOURS = ["what time does your shop open", "opening hours on sunday?",
         "when do you close today", "are you open on bank holidays", "what are your hours",
         "is the store open late on thursday"]
CANADA = ["do you ship to canada", "delivery to toronto possible?",
          "can you send my order to vancouver", "shipping to canada cost",
          "do you deliver to canada", "international shipping to canada"]


def test_unanswered_messages_become_named_clusters_with_a_trend():
    day0 = datetime(2026, 11, 1, 9, tzinfo=timezone.utc)
    messages = [Unanswered(t, day0 + timedelta(days=i % 2), f"g{i}") for i, t in enumerate(GIFT)]
    messages += [Unanswered(t, day0 + timedelta(days=i), f"h{i}") for i, t in enumerate(HOURS)]
    messages += [Unanswered(t, day0 + timedelta(days=5), f"c{i}") for i, t in enumerate(CANADA)]
    clusters = discover(messages, minilm_embedder(), start=date(2026, 11, 1),
                        end=date(2026, 11, 6))
    groups = {frozenset(messages[i].text for i in c.members) for c in clusters}
    assert groups == {frozenset(GIFT), frozenset(HOURS), frozenset(CANADA)}
    topics = {"gift": GIFT, "hours": HOURS, "canada": CANADA}
    by_topic = {name: c for c in clusters for name, texts in topics.items()
                if c.representatives[0] in texts}
    assert "gift" in by_topic["gift"].name
    assert "canada" in by_topic["canada"].name
    assert by_topic["hours"].daily == (1, 1, 1, 1, 1, 1)
    assert by_topic["hours"].trend == pytest.approx(0.0, abs=1e-9)
    assert by_topic["canada"].daily == (0, 0, 0, 0, 0, 6) and by_topic["canada"].trend > 0
    assert all(c.size == 6 and len(c.representatives) == 5 for c in clusters)


def test_no_messages_no_clusters_and_small_groups_are_left_out():
    assert discover([], minilm_embedder()) == []
    at = datetime(2026, 11, 1, tzinfo=timezone.utc)
    few = [Unanswered(t, at, "x") for t in GIFT[:2]]
    assert discover(few, minilm_embedder()) == []
    assert [c.size for c in discover(few, minilm_embedder(), min_size=1)] == [2]
