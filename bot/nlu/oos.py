"""Out-of-scope threshold and temperature, chosen by cross-validation on training data only.

Every function here takes the training matrix and labels and nothing else, so a
threshold can never depend on evaluation data.

Procedure (:func:`calibrate`):

1. Split the training rows into ``k`` folds (stratified when every class has ``k`` rows).
2. Out-of-scope rows for validation come from the training data's out-of-scope intent when
   it has one; otherwise they are simulated by a second round of folds that also holds out
   a group of whole intents per fold ("leave-intents-out", the unknown-intent protocol of
   Shu et al. 2017, DOC: Deep Open Classification of Text Documents): the fold's model
   never sees those intents, so their rows play the part of unseen requests. In-scope
   rows are always scored by the first round's models, which know every intent as the
   final model does: a model missing a group of intents is over-confident on the rows of
   their look-alike intents, which made the in-scope cost of the threshold on BANKING77's
   cross-validation about half of what it later cost on its test split.
3. Fit a temperature ``T`` on the in-scope out-of-fold logits by minimising the negative
   log-likelihood over a grid (temperature scaling, Guo et al. 2017).
4. Score every out-of-fold row with :func:`bot.nlu.neighbours.open_set_score`: the
   calibrated maximum in-scope probability, discounted by the row's distance to its nearest
   training examples of the fold (``similarity_weight`` 0 is the probability alone).
5. For each candidate similarity weight (only 0 when the data has out-of-scope rows),
   choose the threshold on that score: with real
   out-of-scope rows, the best out-of-scope recall among thresholds losing at most
   ``max_in_scope_loss`` in-scope accuracy (:func:`select_threshold`); with simulated ones,
   the best expected accuracy on traffic of which a share ``expected_oos_share`` is out of
   scope (:func:`select_threshold_for_share`), or, when no share is given, the budget rule
   with ``simulated_loss``. The weight with the best value of that rule wins (the smallest
   on ties).

Why the share: a budget of in-scope accuracy suits a training set whose out-of-scope rows
look like the traffic (CLINC150). A new shop has none, and real customer traffic is often
half out of scope; a threshold that may cost only 0.2 points of in-scope accuracy then
rejects a quarter of what it should (the issue's bot A: 28% out-of-scope recall). Weighing
both errors by the expected share is the Bayes decision for overall accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from bot.nlu.features import Design
from bot.nlu.linear_model import fit_softmax, softmax
from bot.nlu.neighbours import nearest_similarity, open_set_score

FoldDesign = Callable[[np.ndarray], Design]
"""Features of every training row given one fold's boolean training mask."""

TEMPERATURES = np.geomspace(0.02, 5.0, 81)
"""Grid searched for the temperature (factor 1.07 between neighbours). Strongly
regularised fits on small data are under-confident, hence temperatures well below 1."""


@dataclass(frozen=True)
class Calibration:
    """Result of :func:`calibrate`.

    Attributes:
        threshold: reject (fall back) when the open-set score (:func:`open_set_score` of
            the calibrated maximum in-scope probability) is below this value; 0.0 means
            never reject.
        temperature: softmax temperature for calibrated probabilities.
        simulated_oos: whether out-of-scope rows were simulated (no such intent in data).
        similarity_weight: weight of the nearest-example similarity in the score (0: the
            probability alone).
        cv_in_scope_accuracy: in-scope accuracy at the threshold on the out-of-fold rows,
            in [0, 1] (``None``: not cross-validated).
        cv_oos_recall: out-of-scope recall at the threshold on the out-of-fold (real or
            simulated) out-of-scope rows, in [0, 1] (``None``: not cross-validated).
    """

    threshold: float
    temperature: float
    simulated_oos: bool
    similarity_weight: float = 0.0
    cv_in_scope_accuracy: float | None = None
    cv_oos_recall: float | None = None


@dataclass
class _FoldScores:
    """Out-of-fold logits of one fold: in-scope rows with targets, out-of-scope rows."""

    in_logits: np.ndarray
    in_targets: np.ndarray
    oos_logits: np.ndarray
    in_columns: np.ndarray
    in_similarity: np.ndarray
    oos_similarity: np.ndarray


def select_threshold(
    in_scores: np.ndarray,
    in_correct: np.ndarray,
    oos_scores: np.ndarray,
    oos_flagged: np.ndarray,
    max_in_scope_loss: float,
) -> float:
    """Threshold with the best out-of-scope recall within an in-scope accuracy budget.

    An in-scope row counts as correct when its predicted intent is right and its score is
    at least the threshold; an out-of-scope row counts as found when it was already
    predicted out of scope (``oos_flagged``) or its score is below the threshold. Among
    thresholds losing at most ``max_in_scope_loss`` in-scope accuracy (absolute, versus
    no threshold), the one with the highest recall is chosen, the smallest on ties.

    Args:
        in_scores: shape ``[n_in]``, max in-scope probability of in-scope rows.
        in_correct: shape ``[n_in]``, bool, predicted intent equals the true one.
        oos_scores: shape ``[n_oos]``, max in-scope probability of out-of-scope rows.
        oos_flagged: shape ``[n_oos]``, bool, argmax already is an out-of-scope class.
        max_in_scope_loss: accuracy budget in [0, 1], e.g. 0.01 for one point.

    Returns:
        A threshold among 0.0 and the observed scores; 0.0 when there are no
        out-of-scope rows or no in-scope rows.
    """
    if not len(oos_scores) or not len(in_scores):
        return 0.0
    candidates, kept, caught = _operating_curve(in_scores, in_correct, oos_scores, oos_flagged)
    allowed = kept >= in_correct.sum() - max_in_scope_loss * len(in_scores) - 1e-9
    recall = np.where(allowed, caught, -1)
    return float(candidates[int(np.argmax(recall))])


def select_threshold_for_share(
    in_scores: np.ndarray,
    in_correct: np.ndarray,
    oos_scores: np.ndarray,
    oos_flagged: np.ndarray,
    expected_oos_share: float,
) -> tuple[float, float]:
    """Threshold with the best expected accuracy when a share of the traffic is out of scope.

    Expected accuracy at threshold ``t`` is ``(1 - s) * A(t) + s * R(t)``: ``A`` the
    in-scope accuracy (right intent and score at least ``t``), ``R`` the out-of-scope
    recall (flagged or score below ``t``), ``s`` the expected out-of-scope share; the
    Bayes decision rule for overall accuracy under that prior.

    Args:
        in_scores: shape ``[n_in]``, open-set score of in-scope rows.
        in_correct: shape ``[n_in]``, bool, predicted intent equals the true one.
        oos_scores: shape ``[n_oos]``, open-set score of out-of-scope rows.
        oos_flagged: shape ``[n_oos]``, bool, argmax already is an out-of-scope class.
        expected_oos_share: ``s`` in [0, 1].

    Returns:
        ``(threshold, expected_accuracy)``: the smallest best threshold among 0.0 and the
        observed scores, and its expected accuracy in [0, 1]; ``(0.0, 0.0)`` when either
        set of rows is empty.
    """
    if not len(oos_scores) or not len(in_scores):
        return 0.0, 0.0
    candidates, kept, caught = _operating_curve(in_scores, in_correct, oos_scores, oos_flagged)
    value = (1 - expected_oos_share) * kept / len(in_scores) + expected_oos_share * (
        caught / len(oos_scores)
    )
    best = int(np.argmax(value))
    return float(candidates[best]), float(value[best])


def _operating_curve(
    in_scores: np.ndarray,
    in_correct: np.ndarray,
    oos_scores: np.ndarray,
    oos_flagged: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every candidate threshold with the rows it keeps right and the rows it catches.

    Args:
        in_scores, in_correct, oos_scores, oos_flagged: as in :func:`select_threshold`.

    Returns:
        ``(candidates, kept, caught)``, each of shape ``[m]``: the sorted distinct
        thresholds (0.0 and every observed score), the number of correctly predicted
        in-scope rows scoring at least each threshold, and the number of out-of-scope rows
        flagged or scoring below it.
    """
    candidates = np.unique(np.concatenate([[0.0], in_scores, oos_scores]))
    correct_sorted = np.sort(in_scores[in_correct])
    missed_sorted = np.sort(oos_scores[~oos_flagged])
    kept = len(correct_sorted) - np.searchsorted(correct_sorted, candidates, side="left")
    caught = oos_flagged.sum() + np.searchsorted(missed_sorted, candidates, side="left")
    return candidates, kept, caught


def _folds(labels: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """Validation row indices of each of ``k`` folds (stratified when possible)."""
    _, counts = np.unique(labels, return_counts=True)
    splitter = (
        StratifiedKFold(k, shuffle=True, random_state=seed)
        if counts.min() >= k
        else KFold(k, shuffle=True, random_state=seed)
    )
    return [valid for _, valid in splitter.split(np.zeros(len(labels)), labels)]


def _fold_scores(
    x: Design,
    labels: np.ndarray,
    valid: np.ndarray,
    held_out_intents: set[str],
    oos_intents: set[str],
    c: float,
    max_iter: int,
    neighbours: int,
    fold_design: FoldDesign | None = None,
) -> _FoldScores | None:
    """Fit on the rows outside ``valid`` (and outside ``held_out_intents``), score ``valid``.

    Similarities are to the fold's in-scope training rows' dense features, of the
    intent the fold's model ranks first among the in-scope ones. With ``fold_design``,
    every row's features come from it, given the fold's training mask.
    """
    train = np.ones(len(labels), dtype=bool)
    train[valid] = False
    train &= ~np.isin(labels, list(held_out_intents))
    if len(set(labels[train])) < 2:
        return None
    if fold_design is not None:
        x = fold_design(train)
    model = fit_softmax(x.rows(train), list(labels[train]), c, max_iter)
    index = {name: i for i, name in enumerate(model.classes)}
    logits = model.logits(x.rows(valid))
    valid_labels = labels[valid]
    is_oos = np.isin(valid_labels, list(oos_intents | held_out_intents))
    known = np.array([name in index for name in valid_labels])
    keep_in = ~is_oos & known
    in_columns = np.array([i for i, n in enumerate(model.classes) if n not in oos_intents])
    if not len(in_columns):
        return None
    predicted = np.array(model.classes)[in_columns[logits[:, in_columns].argmax(axis=1)]]
    reference = train & ~np.isin(labels, list(oos_intents))
    similarity = nearest_similarity(
        x.dense[reference], labels[reference], x.dense[valid], predicted, neighbours
    )
    return _FoldScores(
        in_logits=logits[keep_in],
        in_targets=np.array([index[name] for name in valid_labels[keep_in]], dtype=int),
        oos_logits=logits[is_oos],
        in_columns=in_columns,
        in_similarity=similarity[keep_in],
        oos_similarity=similarity[is_oos],
    )


def _scored_folds(
    x: Design,
    labels: np.ndarray,
    folds: list[np.ndarray],
    held_out: list[set[str]],
    oos_intents: set[str],
    c: float,
    max_iter: int,
    neighbours: int,
    fold_design: FoldDesign | None = None,
) -> list[_FoldScores]:
    """Out-of-fold scores of each fold, fold ``i`` also holding out intents ``held_out[i]``."""
    scored = (
        _fold_scores(x, labels, valid, held, oos_intents, c, max_iter, neighbours, fold_design)
        for valid, held in zip(folds, held_out)
    )
    return [s for s in scored if s is not None]


def _fit_temperature(scores: list[_FoldScores]) -> float:
    """Grid-search the temperature minimising in-scope negative log-likelihood."""
    losses = []
    for t in TEMPERATURES:
        nll = 0.0
        for s in scores:
            p = softmax(s.in_logits, t)[np.arange(len(s.in_targets)), s.in_targets]
            nll -= float(np.log(np.clip(p, 1e-12, 1.0)).sum())
        losses.append(nll)
    return float(TEMPERATURES[int(np.argmin(losses))])


def calibrate(
    x: Design,
    labels: list[str],
    oos_intents: set[str],
    folds: int,
    max_in_scope_loss: float,
    c: float,
    max_iter: int,
    seed: int,
    simulated_loss: float | None = None,
    expected_oos_share: float | None = None,
    neighbours: int = 5,
    similarity_weights: tuple[float, ...] = (0.0,),
    fold_design: FoldDesign | None = None,
) -> Calibration:
    """Choose temperature, similarity weight and out-of-scope threshold from training data.

    Args:
        x: training design matrix with ``n`` rows.
        labels: training intent of each row.
        oos_intents: intent names that mean "out of scope" in the training data.
        folds: number of cross-validation folds (reduced to the row count if larger).
        max_in_scope_loss: in-scope accuracy budget of the threshold, in [0, 1], when
            the training data has out-of-scope rows.
        c: inverse L2 regularisation strength of each fold's model.
        max_iter: lbfgs iteration cap of each fold's model.
        seed: seed of the fold split and of the held-out intent groups.
        simulated_loss: the budget when out-of-scope rows are simulated (no row has an
            out-of-scope intent) and ``expected_oos_share`` is ``None``; ``None``:
            ``max_in_scope_loss``.
        expected_oos_share: with simulated out-of-scope rows, the share of out-of-scope
            messages expected in traffic, in [0, 1]; the threshold then maximises expected
            accuracy (:func:`select_threshold_for_share`).
        neighbours: nearest training examples averaged by the similarity score.
        similarity_weights: candidate weights of the similarity in the open-set score
            (:func:`bot.nlu.neighbours.open_set_score`), each >= 0; with out-of-scope rows
            in the data only 0 (the probability alone).
        fold_design: for features learnt from the training rows (an adapted encoder):
            called with each fold's boolean training mask, returns the features of every
            row as that fold's training rows alone would make them, so that held-out rows
            and intents stay unseen; ``None``: ``x`` for every fold.

    Returns:
        The :class:`Calibration`; temperature 1.0 and threshold 0.0 when there are too
        few rows or intents to cross-validate.
    """
    y = np.asarray(labels, dtype=object)
    k = min(folds, len(y))
    has_oos = bool(np.isin(y, list(oos_intents)).any())
    never = Calibration(threshold=0.0, temperature=1.0, simulated_oos=not has_oos)
    if k < 2 or len(set(labels)) < 2:
        return never
    splits = _folds(y, k, seed)
    args = (oos_intents, c, max_iter, neighbours, fold_design)
    scores = _scored_folds(x, y, splits, [set()] * k, *args)
    if has_oos:
        oos_source = scores
    else:
        intents = sorted(set(labels) - oos_intents)
        rng = np.random.default_rng(seed)
        groups = [set(g) for g in np.array_split(rng.permutation(intents), k)]
        oos_source = _scored_folds(x, y, splits, groups, *args)
    if not scores or not oos_source:
        return never
    temperature = _fit_temperature(scores)
    in_p, in_sim, in_correct, oos_p, oos_sim, oos_flagged = [], [], [], [], [], []
    for s in scores:
        p_in = softmax(s.in_logits, temperature)
        in_p.append(p_in[:, s.in_columns].max(axis=1, initial=0.0))
        in_sim.append(s.in_similarity)
        in_correct.append(p_in.argmax(axis=1) == s.in_targets)
    for s in oos_source:
        p_oos = softmax(s.oos_logits, temperature)
        oos_p.append(p_oos[:, s.in_columns].max(axis=1, initial=0.0))
        oos_sim.append(s.oos_similarity)
        oos_flagged.append(~np.isin(p_oos.argmax(axis=1), s.in_columns))
    rows = [np.concatenate(a) for a in (in_p, in_sim, in_correct, oos_p, oos_sim, oos_flagged)]
    budget = max_in_scope_loss if has_oos or simulated_loss is None else simulated_loss
    share = None if has_oos else expected_oos_share
    # Real out-of-scope examples teach the classifier an out-of-scope class of its own; the
    # similarity then only pushed rare but valid wordings (a mixed-script "thanks") out.
    weights = (0.0,) if has_oos else similarity_weights
    points = [_threshold_for_weight(rows, float(w), budget, share) for w in weights]
    best = points[0]
    for point in points[1:]:  # a later weight must be strictly better
        if point.value > best.value + 1e-12:
            best = point
    return Calibration(
        threshold=best.threshold,
        temperature=temperature,
        simulated_oos=not has_oos,
        similarity_weight=best.weight,
        cv_in_scope_accuracy=best.in_scope_accuracy,
        cv_oos_recall=best.oos_recall,
    )


class _OperatingPoint(NamedTuple):
    """A similarity weight's threshold, the value of its rule, and its out-of-fold figures."""

    value: float
    weight: float
    threshold: float
    in_scope_accuracy: float
    oos_recall: float


def _threshold_for_weight(
    rows: list[np.ndarray], weight: float, budget: float, share: float | None
) -> _OperatingPoint:
    """Threshold of the open-set score with ``weight``, the value of its rule, its figures.

    Args:
        rows: in-scope probability, similarity, correctness; out-of-scope probability,
            similarity, flagged (the out-of-fold rows of :func:`calibrate`).
        weight: similarity weight of :func:`open_set_score`.
        budget: in-scope accuracy budget of :func:`select_threshold` (when ``share`` is
            ``None``).
        share: expected out-of-scope share for :func:`select_threshold_for_share`.

    Returns:
        The operating point; its value is the expected accuracy under ``share``, or the
        out-of-scope recall within the budget.
    """
    in_p, in_sim, in_correct, oos_p, oos_sim, oos_flagged = rows
    in_scores = open_set_score(in_p, in_sim, weight)
    oos_scores = open_set_score(oos_p, oos_sim, weight)
    if share is None:
        threshold = select_threshold(in_scores, in_correct, oos_scores, oos_flagged, budget)
    else:
        threshold, expected = select_threshold_for_share(
            in_scores, in_correct, oos_scores, oos_flagged, share
        )
    recall = float(np.mean(oos_flagged | (oos_scores < threshold))) if len(oos_scores) else 0.0
    return _OperatingPoint(
        value=recall if share is None else expected,
        weight=weight,
        threshold=threshold,
        in_scope_accuracy=float(np.mean(in_correct & (in_scores >= threshold))),
        oos_recall=recall,
    )
