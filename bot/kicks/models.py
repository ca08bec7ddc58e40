"""Model pipelines: XGBoost and the two baselines, each behind the same
:func:`bot.kicks.features.make_preprocessor` step, and the hyper-parameter space."""

from __future__ import annotations

from typing import Any

import optuna
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

from bot.kicks.features import make_preprocessor

DEFAULT_XGB_PARAMS: dict[str, Any] = {
    "learning_rate": 0.05,
    "max_depth": 3,
    "n_estimators": 300,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 10.0,
    "reg_alpha": 0.1,
    "reg_lambda": 1.0,
    "gamma": 0.0,
}
"""Parameters used when no search is run (``--trials 0``)."""


def suggest_xgb_params(trial: optuna.Trial) -> dict[str, Any]:
    """Sample XGBoost parameters from the search space (eta = ``learning_rate``,
    alpha = ``reg_alpha``, lambda = ``reg_lambda``).

    Returns:
        Keyword arguments for :class:`xgboost.XGBClassifier`.
    """
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 5),
        "n_estimators": trial.suggest_int("n_estimators", 100, 400, step=50),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 50.0, log=True),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-3, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
        "gamma": trial.suggest_float("gamma", 0.0, 2.0),
    }


def xgb_pipeline(params: dict[str, Any], n_jobs: int = 1, seed: int = 0) -> Pipeline:
    """Preprocessor + ``XGBClassifier(objective="binary:logistic", tree_method="hist")``.

    Args:
        params: XGBoost keyword arguments (e.g. :data:`DEFAULT_XGB_PARAMS`).
        n_jobs: threads; seed: random seed.
    """
    model = XGBClassifier(
        objective="binary:logistic",
        tree_method="hist",
        eval_metric="auc",
        n_jobs=n_jobs,
        random_state=seed,
        **params,
    )
    return Pipeline([("features", make_preprocessor()), ("model", model)])


def logistic_pipeline() -> Pipeline:
    """Baseline: preprocessor + L2 logistic regression (lbfgs)."""
    return Pipeline(
        [("features", make_preprocessor()), ("model", LogisticRegression(max_iter=2000))]
    )


def forest_pipeline(n_jobs: int = 1, seed: int = 0) -> Pipeline:
    """Baseline: preprocessor + random forest (300 trees, leaves of >= 20 kicks)."""
    model = RandomForestClassifier(
        n_estimators=300, min_samples_leaf=20, n_jobs=n_jobs, random_state=seed
    )
    return Pipeline([("features", make_preprocessor()), ("model", model)])
