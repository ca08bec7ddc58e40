"""Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009)."""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60
"""The constant ``k`` of RRF; 60 is the value Cormack et al. found robust."""


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], k: int = RRF_K
) -> list[tuple[int, float]]:
    """Fuse ranked id lists: ``score(d) = sum over lists of 1 / (k + rank of d)``, rank 1-based.

    Args:
        rankings: each a list of ids, best first, without duplicates.
        k: the RRF constant.

    Returns:
        ``[(id, fused score)]`` sorted by score descending; ties keep the order in which
        ids were first seen (earlier lists first).
    """
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])
