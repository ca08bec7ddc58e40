"""Cross-validated choice of the fusion parameters (``bench/fusion_cv.py``)."""

from __future__ import annotations

import pytest

from bench.fusion_cv import (
    FOLDS,
    QueryLists,
    convex,
    cross_validate,
    families,
    fit_and_hold_out,
    weighted_rrf,
)


def queries(n: int, text_right: int) -> list[QueryLists]:
    """``n`` queries whose k-NN list ranks the relevant id 1 second and the full-text list
    first; for the first ``text_right`` queries, otherwise k-NN is right (id 2 relevant)."""
    return [
        QueryLists(knn=[(2, 0.9), (1, 0.8)], text=[(1, 9.0), (3, 1.0)],
                   relevant={1: 3} if i < text_right else {2: 3})
        for i in range(n)
    ]


def test_fit_picks_the_setting_that_ranks_best_and_cv_scores_held_out_queries():
    grid = [({"vector_weight": 1.0, "k": 5}, weighted_rrf(1.0, 5)),
            ({"vector_weight": 0.0, "k": 5}, weighted_rrf(0.0, 5))]
    result = cross_validate("t", grid, queries(40, text_right=30))
    assert result.params == {"vector_weight": 0.0, "k": 5}
    assert result.fit_all == pytest.approx(30 / 40 + 10 / 40 * 0.5)  # id 2 third: 1/log2(4)
    assert result.cv == pytest.approx(result.fit_all)  # every fold agrees here
    assert len(result.fold_params) == FOLDS


def test_guard_drops_weak_full_text_hits_and_convex_uses_scores():
    q = QueryLists(knn=[(2, 0.9)], text=[(1, 10.0), (3, 1.0)], relevant={3: 3})
    assert 3 in weighted_rrf(0.7, 5)(q)
    assert 3 not in weighted_rrf(0.7, 5, guard=0.5)(q)
    assert convex(1.0)(q)[0] == 2 and convex(0.0)(q)[0] == 1


def test_grids_and_bad_input():
    grids = families()
    assert {"weighted RRF", "convex (min-max)"} <= set(grids)
    assert ({"vector_weight": 1.0, "k": 60}) in [p for p, _ in grids["weighted RRF"]]
    with pytest.raises(ValueError):
        cross_validate("t", grids["weighted RRF"], queries(FOLDS - 1, 0))


def test_hold_out_chooses_on_train_and_scores_test():
    grid = [({"vector_weight": 1.0, "k": 5}, weighted_rrf(1.0, 5)),
            ({"vector_weight": 0.0, "k": 5}, weighted_rrf(0.0, 5))]
    train, test = queries(10, text_right=10), queries(10, text_right=0)
    params, score = fit_and_hold_out(grid, train, test)
    assert params == {"vector_weight": 0.0, "k": 5}  # text was right on train
    assert score == pytest.approx(0.5)  # and wrong on test: relevant id third
    with pytest.raises(ValueError):
        fit_and_hold_out(grid, [], test)
