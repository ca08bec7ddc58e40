"""Model features of a place kick and the scikit-learn preprocessing that encodes them.

Columns (:data:`FEATURES`, in this order in every feature matrix):

* location: ``distance_m`` (metres to the posts), ``angle_deg`` (degrees off centre),
  ``zone`` (:func:`bot.kicks.geometry.field_zone`);
* kicker form (:class:`bot.kicks.form.FormRates`, from strictly earlier kicks, shrunk):
  ``form_zone``, ``form_competition``, ``form_career`` (probabilities in [0, 1]) and
  ``form_log_kicks`` (``log1p`` of the kicker's earlier kicks);
* situation: ``kick_type``, ``venue`` (``home``/``away``), ``score_diff`` (points,
  kicking team minus opponents, before the kick), ``period`` (``"1"``..``"4"``),
  ``minute``, ``competition``.

Numerical columns are standardised, categorical ones one-hot encoded, in a
``ColumnTransformer`` that is the first step of every saved pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from bot.kicks.events import Kick
from bot.kicks.form import FormCounts, FormRates

NUMERIC = (
    "distance_m",
    "angle_deg",
    "score_diff",
    "minute",
    "form_zone",
    "form_competition",
    "form_career",
    "form_log_kicks",
)
CATEGORICAL = ("zone", "kick_type", "venue", "period", "competition")
FEATURES = NUMERIC + CATEGORICAL


def feature_row(
    *,
    distance_m: float,
    angle_deg: float,
    zone: str,
    kick_type: str,
    home: bool,
    score_diff: int,
    period: int,
    minute: int,
    competition: str,
    form: FormRates,
) -> list[object]:
    """One row of :data:`FEATURES` (units as in the module docstring).

    Returns:
        A list of ``len(FEATURES)`` values, numbers then strings.
    """
    return [
        distance_m,
        angle_deg,
        score_diff,
        minute,
        form.zone,
        form.competition,
        form.career,
        math.log1p(form.career_kicks),
        zone,
        kick_type,
        "home" if home else "away",
        str(period),
        competition,
    ]


def kick_row(kick: Kick, form: FormRates) -> list[object]:
    """:func:`feature_row` of a clean kick with the kicker's form before it."""
    return feature_row(
        distance_m=kick.distance_m,
        angle_deg=kick.angle_deg,
        zone=kick.zone,
        kick_type=kick.kick_type,
        home=kick.home,
        score_diff=kick.score_diff,
        period=kick.period,
        minute=kick.minute,
        competition=kick.competition,
        form=form,
    )


def build_features(kicks: Sequence[Kick], counts: FormCounts) -> tuple[np.ndarray, np.ndarray]:
    """Feature matrix and labels, walking kicks in order and updating ``counts``.

    Each kick's form is read from ``counts`` *before* the kick is added, so a kick's
    features never see it or anything after it (no leakage), provided ``kicks`` is
    chronological (as :func:`bot.kicks.events.clean_events` returns it).

    Args:
        kicks: clean kicks, chronological.
        counts: form counts of everything before ``kicks[0]``; updated in place.

    Returns:
        ``(X, y)``: ``X`` an object array ``(n, len(FEATURES))``, ``y`` 0/1 ints ``(n,)``.
    """
    rows = []
    for kick in kicks:
        zone = kick.zone
        rows.append(kick_row(kick, counts.rates(kick.kicker_id, zone, kick.competition)))
        counts.add(kick.kicker_id, zone, kick.competition, kick.made)
    X = np.empty((len(rows), len(FEATURES)), dtype=object)
    if rows:
        X[:] = rows
    y = np.fromiter((k.made for k in kicks), dtype=np.int64, count=len(kicks))
    return X, y


def make_preprocessor() -> ColumnTransformer:
    """Unfitted ``ColumnTransformer``: ``StandardScaler`` on :data:`NUMERIC`,
    ``OneHotEncoder(handle_unknown="ignore")`` on :data:`CATEGORICAL` (by position)."""
    n = len(NUMERIC)
    return ColumnTransformer(
        [
            ("numeric", StandardScaler(), list(range(n))),
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore"),
                list(range(n, len(FEATURES))),
            ),
        ],
        sparse_threshold=0.0,
    )
