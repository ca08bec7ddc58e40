"""Hyper-parameter search for the XGBoost pipeline: Optuna (TPE, a Bayesian sampler)
maximising the mean AUC of stratified k-fold cross-validation, with median pruning
after each fold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from tqdm import tqdm

from bot.kicks.models import DEFAULT_XGB_PARAMS, suggest_xgb_params, xgb_pipeline


@dataclass
class SearchResult:
    """Best parameters, their mean CV AUC, per-fold AUCs and trial counts."""

    params: dict[str, Any]
    cv_auc: float
    fold_aucs: list[float]
    trials: int
    pruned: int


def cross_val_auc(
    params: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    folds: int,
    seed: int,
    n_jobs: int,
    trial: optuna.Trial | None = None,
) -> list[float]:
    """AUC of each fold of stratified ``folds``-fold CV (the preprocessor is refit per fold).

    Raises:
        optuna.TrialPruned: ``trial`` is given and its running mean falls below the median.
    """
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    aucs: list[float] = []
    for step, (train, valid) in enumerate(splitter.split(X, y)):
        pipe = xgb_pipeline(params, n_jobs=n_jobs, seed=seed).fit(X[train], y[train])
        aucs.append(float(roc_auc_score(y[valid], pipe.predict_proba(X[valid])[:, 1])))
        if trial is not None:
            trial.report(float(np.mean(aucs)), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
    return aucs


def search(
    X: np.ndarray,
    y: np.ndarray,
    n_trials: int,
    folds: int = 10,
    seed: int = 0,
    n_jobs: int = 1,
    progress: bool = True,
) -> SearchResult:
    """Search XGBoost parameters; ``n_trials=0`` cross-validates
    :data:`bot.kicks.models.DEFAULT_XGB_PARAMS` only.

    Args:
        X, y: training features and 0/1 labels.
        n_trials: Optuna trials; folds: CV folds; seed: sampler and CV seed.
        n_jobs: XGBoost threads; progress: show a tqdm bar (stderr).

    Returns:
        :class:`SearchResult` of the best trial (re-scored on every fold).
    """
    if n_trials == 0:
        aucs = cross_val_auc(DEFAULT_XGB_PARAMS, X, y, folds, seed, n_jobs)
        return SearchResult(dict(DEFAULT_XGB_PARAMS), float(np.mean(aucs)), aucs, 0, 0)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
    )
    fold_aucs: dict[int, list[float]] = {}

    def objective(trial: optuna.Trial) -> float:
        aucs = cross_val_auc(suggest_xgb_params(trial), X, y, folds, seed, n_jobs, trial)
        fold_aucs[trial.number] = aucs
        return float(np.mean(aucs))

    with tqdm(total=n_trials, desc="optuna trials", unit="trial", disable=not progress) as bar:
        study.optimize(
            objective,
            n_trials=n_trials,
            callbacks=[lambda study, trial: bar.update(1)],
        )
    best = study.best_trial
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    return SearchResult(
        dict(best.params), float(best.value), fold_aucs[best.number], n_trials, pruned
    )
