"""The NLU benchmark's ceiling diagnostic (``bench/nlu.py``: ``best_in_scope``, ``ceiling``)."""

from __future__ import annotations

import pytest

import bench.nlu as bench_nlu


def test_best_in_scope_skips_the_fallback_and_reports_an_out_of_scope_first_rank():
    rejected = [
        {"name": "nlu_fallback", "confidence": 0.9},
        {"name": "balance", "confidence": 0.1},
        {"name": "oos", "confidence": 0.05},
    ]
    assert bench_nlu.best_in_scope(rejected) == ("balance", 0.1, False)
    oos_first = [{"name": "oos", "confidence": 0.7}, {"name": "balance", "confidence": 0.2}]
    assert bench_nlu.best_in_scope(oos_first) == ("balance", 0.2, True)
    assert bench_nlu.best_in_scope([]) == (None, 0.0, False)


def test_ceiling_finds_the_best_threshold_under_the_same_rule_as_calibration():
    # 40 in-scope rows: 39 right (one with low confidence 0.3), 1 ranked oos first.
    truth = ["a"] * 40 + ["oos"] * 10
    best = [("a", 0.9, False)] * 38 + [("a", 0.3, False), ("a", 0.95, True)]
    # 10 out-of-scope rows: 2 ranked oos first, 6 at 0.2, 2 confident at 0.8.
    best += [("a", 0.9, True)] * 2 + [("a", 0.2, False)] * 6 + [("a", 0.8, False)] * 2
    c = bench_nlu.ceiling(truth, best)
    # The row ranked oos first is wrong even though its top in-scope intent is right.
    assert c["no_threshold_in_scope_accuracy"] == pytest.approx(39 / 40)
    # No threshold keeps 96.5% of 40 in-scope rows (39/40 = 97.5% at best): recall 80%
    # (2 + 6 of 10) at threshold 0.3, the in-scope rows all kept.
    assert c["best_oos_recall_at_in_scope"] == pytest.approx(0.8)
    assert c["best_in_scope_at_oos_recall"] == pytest.approx(39 / 40)


def test_ceiling_without_out_of_scope_rows_reports_only_accuracy():
    c = bench_nlu.ceiling(["a", "b"], [("a", 0.9, False), ("a", 0.8, False)])
    assert c == {"no_threshold_in_scope_accuracy": 0.5}
