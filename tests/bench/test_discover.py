"""The clustering scores of bench/discover.py on labels whose answers are known by hand."""

import numpy as np
import pytest

from bench.discover import clustering_scores


def test_a_renamed_perfect_clustering_scores_100():
    scores = clustering_scores(["a", "a", "b", "b", "c"], np.array([2, 2, 0, 0, 1]))
    assert scores == {"nmi": pytest.approx(100), "ari": pytest.approx(100),
                      "acc": pytest.approx(100), "k": 3}


def test_accuracy_matches_each_cluster_to_one_intent():
    # cluster 0 holds a,a,b; cluster 1 holds b; cluster 2 holds c,c: best matching 0->a,
    # 1->b, 2->c gets 2 + 1 + 2 of 6 right
    scores = clustering_scores(["a", "a", "b", "b", "c", "c"], np.array([0, 0, 0, 1, 2, 2]))
    assert scores["acc"] == pytest.approx(100 * 5 / 6)
    # more clusters than intents: the extra cluster matches nothing
    split = clustering_scores(["a", "a", "a", "a"], np.array([0, 0, 1, 1]))
    assert split["acc"] == pytest.approx(50) and split["k"] == 2
