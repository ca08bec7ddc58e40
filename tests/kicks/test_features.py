import dataclasses

import numpy as np

from bot.kicks.features import FEATURES, build_features
from bot.kicks.form import FormCounts

FORM = slice(FEATURES.index("form_zone"), FEATURES.index("form_log_kicks") + 1)


def test_form_features_never_see_the_kick_or_later(small_kicks):
    kicks = small_kicks[:3000]
    X, _ = build_features(kicks, FormCounts())
    for i in (0, 1, 57, 1234, 2999):
        # recompute from strictly earlier kicks only
        X_prefix, _ = build_features(kicks[: i + 1], FormCounts())
        assert list(X_prefix[i]) == list(X[i])
        # flipping this kick's and all later outcomes changes nothing up to it
        flipped = kicks[:i] + [dataclasses.replace(k, made=not k.made) for k in kicks[i:]]
        X_flip, _ = build_features(flipped, FormCounts())
        assert np.array_equal(X_flip[: i + 1, FORM], X[: i + 1, FORM])


def test_first_kick_of_a_kicker_uses_all_kicker_average(small_kicks):
    X, _ = build_features(small_kicks, FormCounts())
    first = {}
    for i, k in enumerate(small_kicks):
        first.setdefault(k.kicker_id, i)
    col = FEATURES.index("form_log_kicks")
    assert all(X[i, col] == 0.0 for i in first.values())


def test_shrinkage_pulls_few_kicks_towards_the_average():
    counts = FormCounts()
    for _ in range(3):
        counts.add("A", "0-22m/central", "Cup", True)
    for _ in range(300):
        counts.add("B", "0-22m/central", "Cup", False)
    a = counts.rates("A", "0-22m/central", "Cup")
    assert 0.0 < a.career < 1.0 and a.career_kicks == 3 and a.known
    unknown = counts.rates("nobody", "0-22m/central", "Cup")
    assert not unknown.known and unknown.career_kicks == 0
