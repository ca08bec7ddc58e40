"""Choosing the hybrid fusion's parameters by cross-validation (used by
``bench/search_quality.py``; not a benchmark of its own).

Each query of the development set has its k-NN list and its full-text list (ids and
scores, :class:`QueryLists`). A *family* is a fusion function with a grid of parameter
settings; a setting turns both lists into one ranking. For each family this module

* fits on all queries: the setting with the highest mean nDCG@10 (what would ship), and
* cross-validates that choice: queries are split into :data:`FOLDS` folds (query ``i`` of
  the file in fold ``i mod FOLDS``, so the figure does not depend on a random seed); for
  each fold the setting is chosen on the other folds and scored on this one. The mean
  over all held-out queries estimates how the procedure does on queries it was not
  tuned on.

Ties between settings go to the first in grid order.

Families (Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval",
ACM TOIS 42(1), 2023, compare the same two kinds):

* ``weighted RRF``: :func:`bot.search.fusion.hybrid_fusion` over vector weight and ``k``;
* ``weighted RRF + BM25 guard``: the same, with full-text hits kept only when their score
  is at least a share of the best full-text score of that query (a confidence guard);
* ``convex (min-max)``: ``a * knn + (1 - a) * text`` of scores min-max normalised within
  each query's lists; an id missing from a list scores 0 there.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.search.fusion import hybrid_fusion
from bot.search.metrics import ndcg_at_k

K = 10
FOLDS = 10
WEIGHTS = tuple(round(0.5 + 0.05 * i, 2) for i in range(11))
"""Vector weights tried: 0.50, 0.55, ..., 1.00 (1.00 = k-NN alone)."""
RRF_KS = (1, 5, 10, 20, 40, 60)
"""RRF constants tried (60 is Cormack et al.'s default)."""
GUARD_SHARES = (0.3, 0.5, 0.7, 0.9)
"""Least share of the query's best full-text score a full-text hit needs (guard family)."""
CONVEX_WEIGHTS = WEIGHTS


@dataclass(frozen=True)
class QueryLists:
    """One development query's two ranked lists and its graded judgements."""

    knn: list[tuple[int, float]]
    text: list[tuple[int, float]]
    relevant: dict[int, int]


Fuse = Callable[[QueryLists], list[int]]


@dataclass(frozen=True)
class FamilyResult:
    """What :func:`cross_validate` found for one family.

    Attributes:
        name: the family.
        fit_all: mean nDCG@10 of the setting chosen on all queries.
        params: that setting.
        cv: mean held-out nDCG@10 over all queries (each scored by the setting chosen
            without it).
        fold_params: the setting chosen for each fold.
    """

    name: str
    fit_all: float
    params: dict[str, float]
    cv: float
    fold_params: list[dict[str, float]] = field(default_factory=list)


def _ids(pairs: Sequence[tuple[int, float]]) -> list[int]:
    return [pid for pid, _ in pairs]


def weighted_rrf(weight: float, k: float, guard: float = 0.0) -> Fuse:
    """The shipped fusion with the given vector weight and ``k``; ``guard`` > 0 drops
    full-text hits scoring below ``guard`` times the query's best full-text score."""

    def fuse(q: QueryLists) -> list[int]:
        text = q.text
        if guard > 0 and text:
            text = [(p, s) for p, s in text if s >= guard * text[0][1]]
        return _ids(hybrid_fusion(_ids(q.knn), _ids(text), weight, k))[:K]

    return fuse


def _min_max(pairs: Sequence[tuple[int, float]]) -> dict[int, float]:
    if not pairs:
        return {}
    lo, hi = min(s for _, s in pairs), max(s for _, s in pairs)
    return {p: (s - lo) / (hi - lo) if hi > lo else 1.0 for p, s in pairs}


def convex(weight: float) -> Fuse:
    """Convex combination of min-max normalised scores, ``weight`` on k-NN."""

    def fuse(q: QueryLists) -> list[int]:
        knn, text = _min_max(q.knn), _min_max(q.text)
        fused = {p: weight * knn.get(p, 0.0) + (1 - weight) * text.get(p, 0.0)
                 for p in [*knn, *(p for p in text if p not in knn)]}
        return sorted(fused, key=lambda p: -fused[p])[:K]

    return fuse


def families() -> dict[str, list[tuple[dict[str, float], Fuse]]]:
    """Every family's grid: ``{name: [(setting, fusion function)]}``."""
    return {
        "weighted RRF": [({"vector_weight": w, "k": k}, weighted_rrf(w, k))
                         for w in WEIGHTS for k in RRF_KS],
        "weighted RRF + BM25 guard": [
            ({"vector_weight": w, "k": k, "guard": g}, weighted_rrf(w, k, g))
            for w in WEIGHTS for k in RRF_KS for g in GUARD_SHARES
        ],
        "convex (min-max)": [({"vector_weight": w}, convex(w)) for w in CONVEX_WEIGHTS],
    }


def _best(scores: list[list[float]], queries: Sequence[int]) -> int:
    """Index of the setting with the highest total over ``queries`` (first on ties)."""
    totals = [sum(row[i] for i in queries) for row in scores]
    return max(range(len(totals)), key=lambda j: (totals[j], -j))


def cross_validate(
    name: str, grid: list[tuple[dict[str, float], Fuse]], queries: Sequence[QueryLists]
) -> FamilyResult:
    """Fit ``grid`` on all ``queries`` and cross-validate that choice (module docstring).

    Args:
        name: family name for the result.
        grid: settings and their fusion functions.
        queries: the development set's lists, in file order.

    Returns:
        The family's fit-on-all and cross-validated mean nDCG@10.

    Raises:
        ValueError: fewer queries than :data:`FOLDS` or an empty grid.
    """
    n = len(queries)
    if n < FOLDS or not grid:
        raise ValueError(f"need at least {FOLDS} queries and one setting")
    scores = [[ndcg_at_k(fuse(q), q.relevant, K) for q in queries] for _, fuse in grid]
    chosen = _best(scores, range(n))
    held_out: list[float] = []
    fold_params: list[dict[str, float]] = []
    for fold in range(FOLDS):
        train = [i for i in range(n) if i % FOLDS != fold]
        best = _best(scores, train)
        fold_params.append(grid[best][0])
        held_out += [scores[best][i] for i in range(n) if i % FOLDS == fold]
    return FamilyResult(
        name=name,
        fit_all=statistics.fmean(scores[chosen]),
        params=grid[chosen][0],
        cv=statistics.fmean(held_out),
        fold_params=fold_params,
    )


def fit_and_hold_out(
    grid: list[tuple[dict[str, float], Fuse]],
    train: Sequence[QueryLists],
    test: Sequence[QueryLists],
) -> tuple[dict[str, float], float]:
    """Choose the setting on ``train`` alone and score it on ``test``.

    Returns:
        ``(setting, mean nDCG@10 on test)``.

    Raises:
        ValueError: empty ``train``, ``test`` or ``grid``.
    """
    if not train or not test or not grid:
        raise ValueError("need training queries, test queries and one setting")
    scores = [[ndcg_at_k(fuse(q), q.relevant, K) for q in train] for _, fuse in grid]
    params, fuse = grid[_best(scores, range(len(train)))]
    return params, statistics.fmean(ndcg_at_k(fuse(q), q.relevant, K) for q in test)
