"""Ranking metrics for graded relevance judgements (used by ``bench/search_quality.py``).

``relevance`` maps a product id to its grade (0 = not relevant, 1 = related, 2 = good
substitute, 3 = exactly what was asked); ids absent from it have grade 0. An id counts as
relevant for recall@k and MRR when its grade is at least 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def dcg_at_k(grades: Sequence[float], k: int) -> float:
    """Discounted cumulative gain of the first ``k`` grades: ``sum g_i / log2(i + 1)``,
    ``i`` 1-based (Järvelin & Kekäläinen 2002, log base 2)."""
    return sum(g / math.log2(i + 1) for i, g in enumerate(grades[:k], start=1))


def ndcg_at_k(ranked: Sequence[int], relevance: Mapping[int, float], k: int = 10) -> float:
    """nDCG@k: DCG of ``ranked`` divided by DCG of the ideal ordering; in [0, 1]."""
    ideal = dcg_at_k(sorted(relevance.values(), reverse=True), k)
    if ideal == 0:
        return 0.0
    return dcg_at_k([relevance.get(i, 0) for i in ranked], k) / ideal


def recall_at_k(ranked: Sequence[int], relevance: Mapping[int, float], k: int = 10) -> float:
    """recall@k: share of the relevant ids (grade >= 1) found in the first ``k``."""
    relevant = {i for i, g in relevance.items() if g >= 1}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def reciprocal_rank(ranked: Sequence[int], relevance: Mapping[int, float]) -> float:
    """1 / rank of the first relevant id (grade >= 1), 0 when none; MRR is its mean."""
    for rank, item in enumerate(ranked, start=1):
        if relevance.get(item, 0) >= 1:
            return 1.0 / rank
    return 0.0
