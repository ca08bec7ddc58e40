"""Rank fusion: plain and weighted RRF, the hybrid mode's constants on the development set."""

from __future__ import annotations

import random

import pytest

from bench.search_quality import ROOT, evaluate, load_dev
from bot.search.fusion import (
    HYBRID_K,
    VECTOR_WEIGHT,
    hybrid_fusion,
    reciprocal_rank_fusion,
)
from bot.search.service import SearchService


def order(fused: list[tuple[int, float]]) -> list[int]:
    return [i for i, _ in fused]


def test_rrf_scores_and_order():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1]])
    scores = dict(fused)
    assert scores[1] == pytest.approx(1 / 61 + 1 / 62)
    assert scores[3] == pytest.approx(1 / 63 + 1 / 61)
    assert scores[2] == pytest.approx(1 / 62)
    assert order(fused) == [1, 3, 2]


def test_weighted_rrf_scores():
    scores = dict(reciprocal_rank_fusion([[1, 2], [2]], k=5, weights=[0.7, 0.3]))
    assert scores[1] == pytest.approx(0.7 / 6)
    assert scores[2] == pytest.approx(0.7 / 7 + 0.3 / 6)


def test_weight_decides_between_opposite_lists():
    knn, text = [1, 2, 3], [3, 2, 1]
    assert order(hybrid_fusion(knn, text, 0.7, 5)) == [1, 2, 3]
    assert order(hybrid_fusion(knn, text, 0.3, 5)) == [3, 2, 1]
    assert order(hybrid_fusion(knn, text, 0.5, 5)) == [1, 3, 2]  # tie 1 = 3: k-NN first
    assert order(hybrid_fusion(knn, [9, *text], 1.0, 5)) == [1, 2, 3, 9]
    assert order(hybrid_fusion([9, *knn], text, 0.0, 5)) == [3, 2, 1, 9]


def test_shipped_constants_let_a_text_only_hit_in_below_the_top_knn_hits():
    knn = list(range(1, 51))
    fused = order(hybrid_fusion(knn, [100]))
    assert fused.index(100) > 5  # a lone full-text hit does not push the top k-NN hits down
    assert fused.index(100) < 10  # but still reaches the first page
    assert (VECTOR_WEIGHT, HYBRID_K) == (0.7, 5)


def test_a_hit_better_ranked_in_both_lists_is_fused_above():
    rng = random.Random(13)
    for _ in range(300):
        ids = list(range(30))
        knn = rng.sample(ids, rng.randint(0, 30))
        text = rng.sample(ids, rng.randint(0, 30))
        weight = rng.choice([0.0, 0.3, 0.5, VECTOR_WEIGHT, 1.0])
        fused = order(hybrid_fusion(knn, text, weight, rng.choice([1, HYBRID_K, 60])))
        assert sorted(fused) == sorted(set(knn) | set(text))  # each id once, none lost

        def rank(lst: list[int], i: int) -> float:
            return lst.index(i) if i in lst else float("inf")

        for a in fused:
            for b in fused:
                at_least = rank(knn, a) <= rank(knn, b) and rank(text, a) <= rank(text, b)
                better = rank(knn, a) < rank(knn, b) or rank(text, a) < rank(text, b)
                if at_least and better:
                    assert fused.index(a) < fused.index(b)


@pytest.mark.parametrize(
    ("rankings", "k", "weights"),
    [([[1]], 0, None), ([[1]], 60, [-1.0]), ([[1], [2]], 60, [1.0])],
)
def test_rrf_rejects_bad_parameters(rankings: list[list[int]], k: float, weights):
    with pytest.raises(ValueError):
        reciprocal_rank_fusion(rankings, k, weights)


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_hybrid_fusion_rejects_weights_outside_0_1(weight: float):
    with pytest.raises(ValueError):
        hybrid_fusion([1], [2], weight)


def test_shipped_fusion_is_not_worse_than_its_best_input_on_the_dev_set(service: SearchService):
    dev = load_dev(ROOT / "bench" / "data" / "search_dev.jsonl")
    assert len(dev) >= 110
    results = evaluate(service, dev)
    ndcg = {mode: results[mode]["all"]["nDCG@10"] for mode in results}
    assert ndcg["hybrid"] >= max(ndcg["text"], ndcg["knn"])
    assert ndcg["hybrid"] > ndcg["hybrid_rrf"]
