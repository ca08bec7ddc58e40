"""Rank fusion for hybrid search: (weighted) reciprocal rank fusion.

Plain RRF (Cormack, Clarke & Büttcher, SIGIR 2009) gives every list the same say,
``sum 1 / (k + rank)``. Weighted RRF multiplies each list's term by a weight; Bruch, Gai &
Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval" (ACM TOIS 42(1), 2023)
show that RRF is sensitive to ``k`` and that fusion parameters should be fitted to the
domain with a few labelled queries. The hybrid mode uses :func:`hybrid_fusion`, whose
constants were chosen that way (see :data:`VECTOR_WEIGHT`).
"""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60
"""The constant ``k`` of plain RRF; 60 is the value Cormack et al. found robust. Kept as
the default of :func:`reciprocal_rank_fusion` and as the baseline ``bench/search_quality.py``
compares the hybrid fusion with."""

VECTOR_WEIGHT = 0.7
"""Weight of the k-NN (embedding) list in :func:`hybrid_fusion`; the full-text list gets
``1 - VECTOR_WEIGHT``. Chosen with :data:`HYBRID_K` by ``bench/search_quality.py``: the pair
with the highest mean nDCG@10 over the 120 development queries of
``bench/data/search_dev.jsonl`` on a grid of weights 0.50, 0.55, ..., 1.00 (1.00 = k-NN
alone) and ``k`` in 1, 5, 10, 20, 40, 60. 10-fold cross-validation of that choice gives
nDCG@10 0.867 (every fold picks the same pair), against 0.856 for k-NN alone, 0.629 for
full text and 0.838 for plain RRF (``k`` = 60, equal weights). A convex combination of
min-max normalised scores scored about the same (0.865 cross-validated) but depends on
each backend's score scale (FTS5 BM25 vs PostgreSQL ``ts_rank``), ranks do not; a guard
that keeps only confident full-text hits (BM25 at least a share of the query's best)
scored lower out of sample (0.860), so there is none."""

HYBRID_K = 5
"""RRF constant of :func:`hybrid_fusion`, chosen with :data:`VECTOR_WEIGHT`. A small ``k``
lets the top of each list count much more than its tail (rank 1 of the full-text list
alone lands near rank 9 of the k-NN list), so a weak full-text tail of words like "for"
or "my" cannot push good k-NN hits down."""


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]],
    k: float = RRF_K,
    weights: Sequence[float] | None = None,
) -> list[tuple[int, float]]:
    """Fuse ranked id lists: ``score(d) = sum over lists i of w_i / (k + rank_i(d))``,
    rank 1-based; a list that does not hold ``d`` adds nothing.

    Args:
        rankings: each a list of ids, best first, without duplicates.
        k: the RRF constant, > 0.
        weights: one non-negative weight per list; ``None`` gives every list weight 1
            (plain RRF).

    Returns:
        ``[(id, fused score)]`` sorted by score descending; ties keep the order in which
        ids were first seen (earlier lists first).

    Raises:
        ValueError: ``k <= 0``, a negative weight, or not one weight per list.
    """
    if k <= 0:
        raise ValueError("k must be positive")
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings) or any(w < 0 for w in weights):
        raise ValueError("weights must be one non-negative number per ranking")
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


def hybrid_fusion(
    knn: Sequence[int],
    text: Sequence[int],
    vector_weight: float = VECTOR_WEIGHT,
    k: float = HYBRID_K,
) -> list[tuple[int, float]]:
    """The hybrid mode's fusion: weighted RRF of the k-NN list (weight ``vector_weight``)
    and the full-text list (weight ``1 - vector_weight``).

    Args:
        knn: product ids by embedding similarity, best first.
        text: product ids by full-text rank, best first.
        vector_weight: in [0, 1]; 1 ranks by k-NN alone (full-text-only ids follow).
        k: RRF constant, > 0.

    Returns:
        ``[(id, fused score)]`` best first, as :func:`reciprocal_rank_fusion`; k-NN wins ties.

    Raises:
        ValueError: ``vector_weight`` outside [0, 1] or ``k <= 0``.
    """
    if not 0.0 <= vector_weight <= 1.0:
        raise ValueError("vector_weight must lie in [0, 1]")
    return reciprocal_rank_fusion([knn, text], k, (vector_weight, 1.0 - vector_weight))
