"""nDCG@k, recall@k and reciprocal rank on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from bot.search.metrics import ndcg_at_k, recall_at_k, reciprocal_rank

REL = {1: 3, 2: 1, 3: 2}


def test_ndcg_perfect_and_hand_computed():
    assert ndcg_at_k([1, 3, 2], REL) == pytest.approx(1.0)
    ideal = 3 + 2 / math.log2(3) + 1 / 2
    assert ndcg_at_k([9, 1], REL) == pytest.approx((3 / math.log2(3)) / ideal)
    assert ndcg_at_k([9], {}) == 0.0


def test_recall_and_rr():
    assert recall_at_k([1, 9, 2], REL, k=2) == pytest.approx(1 / 3)
    assert recall_at_k([1, 9, 2], REL, k=10) == pytest.approx(2 / 3)
    assert reciprocal_rank([9, 8, 3], REL) == pytest.approx(1 / 3)
    assert reciprocal_rank([9], REL) == 0.0
