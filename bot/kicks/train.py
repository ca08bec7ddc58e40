"""Train the kick model, or refresh it with new events.

Usage::

    python -m bot.kicks.train                      # small simulated default (~1 min)
    python -m bot.kicks.train --n-kicks 67000 --trials 30
    python -m bot.kicks.train --events feed.jsonl  # your own feed (schema: bot.kicks.events)
    python -m bot.kicks.train --update new.jsonl   # count new kicks, refresh the model

A full run: clean the events, build features in time order (form from earlier kicks
only), replace the kicker-form tables, hold out the last ``--test-seasons`` seasons,
search XGBoost parameters with Optuna on ``--folds``-fold stratified CV AUC, fit the
best on the training seasons, score it and the logistic-regression and random-forest
baselines (and, for simulated data, the oracle) on the held-out seasons, and save a
versioned artifact (:mod:`bot.kicks.artifact`).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import xgboost
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

from bot.kicks import artifact, form_store
from bot.kicks.events import CleaningReport, Kick, clean_events, read_events
from bot.kicks.features import CATEGORICAL, NUMERIC, build_features
from bot.kicks.form import FormCounts
from bot.kicks.metrics import scores
from bot.kicks.models import forest_pipeline, logistic_pipeline, xgb_pipeline
from bot.kicks.simulate import simulate
from bot.kicks.tuning import search
from bot.store.db import get_engine
from bot.store.schema import upgrade

DEFAULT_N_KICKS = 20_000
DEFAULT_TRIALS = 3
DEFAULT_FOLDS = 10
DEFAULT_TEST_SEASONS = 2
UPDATE_ROUNDS = 25
"""Boosting rounds added to the model by ``--update``."""


@dataclass
class TrainConfig:
    """Options of a full training run (see the CLI help for each)."""

    events: Path | None = None
    n_kicks: int = DEFAULT_N_KICKS
    seed: int = 2019
    trials: int = DEFAULT_TRIALS
    folds: int = DEFAULT_FOLDS
    test_seasons: int = DEFAULT_TEST_SEASONS
    n_jobs: int = 1
    database_url: str | None = None
    models_root: Path | None = None
    progress: bool = True


@dataclass
class TrainResult:
    """A finished run: saved ``version``, its ``metadata``, fitted pipelines by name
    (``xgboost``, ``logistic_regression``, ``random_forest``) and held-out data."""

    version: str
    metadata: dict[str, Any]
    pipelines: dict[str, Pipeline] = field(repr=False)
    X_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    test_kicks: list[Kick] = field(repr=False)


def load_kicks(config: TrainConfig) -> tuple[list[Kick], CleaningReport, dict[str, Any]]:
    """Clean kicks from ``config.events`` or, if ``None``, from :func:`simulate`.

    Returns:
        ``(kicks, report, source)``; ``source`` describes the data for the metadata.
    """
    if config.events is not None:
        raw = read_events(config.events)
        source = {"events": str(config.events)}
    else:
        raw = simulate(config.n_kicks, config.seed).events
        source = {"simulated": True, "n_kicks": config.n_kicks, "seed": config.seed}
    kicks, report = clean_events(raw)
    source["simulated"] = bool(kicks) and all(k.p_true is not None for k in kicks)
    return kicks, report, source


def split_seasons(kicks: list[Kick], test_seasons: int) -> tuple[np.ndarray, list[int]]:
    """Boolean mask of held-out kicks (the last ``test_seasons`` seasons) and those seasons.

    Raises:
        ValueError: fewer than ``test_seasons + 1`` seasons in the data.
    """
    seasons = sorted({k.season for k in kicks})
    if len(seasons) <= test_seasons:
        raise ValueError(f"need more than {test_seasons} seasons, got {seasons}")
    held = seasons[-test_seasons:]
    return np.array([k.season in held for k in kicks]), held


def _versions() -> dict[str, str]:
    return {"xgboost": xgboost.__version__, "scikit-learn": sklearn.__version__}


def train(config: TrainConfig) -> TrainResult:
    """Run a full training (see the module docstring) and save the artifact.

    Returns:
        :class:`TrainResult`.

    Raises:
        ValueError: too few seasons for the held-out split, or no clean kicks.
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    kicks, report, source = load_kicks(config)
    if not kicks:
        raise ValueError(f"no clean kicks ({report.summary()})")
    counts = FormCounts()
    X, y = build_features(kicks, counts)
    upgrade(config.database_url)  # a first training may target a new database
    form_store.replace_all(get_engine(config.database_url), counts, kicks)
    timings["data_and_features"] = time.perf_counter() - start

    test, held = split_seasons(kicks, config.test_seasons)
    X_train, y_train, X_test, y_test = X[~test], y[~test], X[test], y[test]
    start = time.perf_counter()
    found = search(
        X_train,
        y_train,
        config.trials,
        config.folds,
        config.seed,
        config.n_jobs,
        config.progress,
    )
    timings["cv_search"] = time.perf_counter() - start

    pipelines: dict[str, Pipeline] = {}
    for name, pipe in (
        ("xgboost", xgb_pipeline(found.params, config.n_jobs, config.seed)),
        ("logistic_regression", logistic_pipeline()),
        ("random_forest", forest_pipeline(config.n_jobs, config.seed)),
    ):
        start = time.perf_counter()
        pipelines[name] = pipe.fit(X_train, y_train)
        timings[f"fit_{name}"] = time.perf_counter() - start
    test_metrics = {
        name: scores(y_test, pipe.predict_proba(X_test)[:, 1]) for name, pipe in pipelines.items()
    }
    test_kicks = [k for k, t in zip(kicks, test, strict=True) if t]
    if source["simulated"]:
        test_metrics["oracle"] = scores(y_test, np.array([k.p_true for k in test_kicks]))
    metadata = {
        "model": "xgboost binary:logistic in a scikit-learn Pipeline",
        "features": {"numeric": list(NUMERIC), "categorical": list(CATEGORICAL)},
        "params": found.params,
        "cv": {
            "folds": config.folds,
            "auc_mean": found.cv_auc,
            "fold_aucs": found.fold_aucs,
            "trials": found.trials,
            "pruned_trials": found.pruned,
        },
        "metrics": {"test": test_metrics, "test_seasons": held},
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
        "data_hash": artifact.data_hash(kicks),
        "data": {**source, "cleaning": report.summary(), "dropped": dict(report.dropped)},
        "timings_s": timings,
        "library_versions": _versions(),
        "parent_version": None,
        "updates": [],
    }
    version = artifact.save(pipelines["xgboost"], metadata, config.models_root)
    metadata["version"] = version
    return TrainResult(version, metadata, pipelines, X_test, y_test, test_kicks)


@dataclass
class UpdateSummary:
    """What ``--update`` did: new ``version`` (``None`` if the model was not refreshed),
    kicks counted and skipped, the cleaning summary, the old model's scores on the new
    kicks and why the model was not refreshed (if so)."""

    version: str | None
    counted: int
    skipped: int
    cleaning: str
    scores_before: dict[str, float] | None
    note: str = ""


def update(
    events: Path,
    database_url: str | None = None,
    models_root: Path | None = None,
    rounds: int = UPDATE_ROUNDS,
    n_jobs: int = 1,
) -> UpdateSummary:
    """Count new kicks into the form store and refresh the latest model with them.

    Only the new events are processed: their form features come from the stored counts,
    the store gains their counts, and XGBoost continues boosting ``rounds`` more trees
    on them (the fitted preprocessor is kept).

    Raises:
        FileNotFoundError: no model saved yet (run a full training first).
    """
    pipeline, parent = artifact.load(root=models_root)
    kicks, report = clean_events(read_events(events))
    result = form_store.apply_update(get_engine(database_url), kicks)
    summary = UpdateSummary(None, len(result.new), len(result.skipped), report.summary(), None)
    if not result.new:
        summary.note = "no new kicks"
        return summary
    probs = pipeline.predict_proba(result.X)[:, 1]
    summary.scores_before = scores(result.y, probs)
    if len(np.unique(result.y)) < 2:
        summary.note = "model not refreshed: the new kicks all have the same outcome"
        return summary
    prep, old = pipeline.named_steps["features"], pipeline.named_steps["model"]
    model = XGBClassifier(**{**old.get_params(), "n_estimators": rounds, "n_jobs": n_jobs})
    model.fit(prep.transform(result.X), result.y, xgb_model=old.get_booster())
    new_hash = artifact.data_hash(result.new)
    metadata = {
        **{k: v for k, v in parent.items() if k not in ("version", "trained_at")},
        "parent_version": parent["version"],
        "data_hash": hashlib.sha256((parent["data_hash"] + new_hash).encode()).hexdigest(),
        "library_versions": _versions(),
        "updates": [
            *parent.get("updates", []),
            {
                "events": str(events),
                "events_hash": new_hash,
                "counted": len(result.new),
                "skipped_already_counted": len(result.skipped),
                "out_of_order": result.out_of_order,
                "cleaning": report.summary(),
                "rounds_added": rounds,
                "scores_before_on_new_kicks": summary.scores_before,
            },
        ],
    }
    summary.version = artifact.save(
        Pipeline([("features", prep), ("model", model)]), metadata, models_root
    )
    return summary


def is_trained(database_url: str | None = None, models_root: Path | None = None) -> bool:
    """Whether a model is saved and the form store of ``database_url`` holds kicks (what
    :meth:`bot.kicks.predictor.KickPredictor.load` needs).

    Raises:
        sqlalchemy.exc.OperationalError: the database is not migrated (``make db``).
    """
    return artifact.latest_version(models_root) is not None and bool(
        form_store.count_kicks(get_engine(database_url))
    )


def _print_metrics(metadata: dict[str, Any]) -> None:
    test = metadata["metrics"]["test"]
    print(f"held-out seasons {metadata['metrics']['test_seasons']}: {metadata['n_test']} kicks")
    print(f"{'model':<22}{'AUC':>8}{'Brier':>9}{'log loss':>10}")
    for name, m in test.items():
        print(f"{name:<22}{m['auc']:>8.4f}{m['brier']:>9.4f}{m['log_loss']:>10.4f}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.kicks.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--events", type=Path, help="event feed (JSON Lines or array)")
    parser.add_argument(
        "--update",
        type=Path,
        metavar="NEW_EVENTS",
        help="count only these new events and refresh the latest model",
    )
    parser.add_argument(
        "--n-kicks",
        type=int,
        default=DEFAULT_N_KICKS,
        help="kicks to simulate when no --events (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=2019)
    parser.add_argument(
        "--trials",
        type=int,
        default=DEFAULT_TRIALS,
        help="Optuna trials, 0 = default parameters (default %(default)s)",
    )
    parser.add_argument("--folds", type=int, default=DEFAULT_FOLDS)
    parser.add_argument("--test-seasons", type=int, default=DEFAULT_TEST_SEASONS)
    parser.add_argument("--n-jobs", type=int, default=1, help="threads for XGBoost / forest")
    parser.add_argument("--database-url", help="default $DATABASE_URL or var/shop.db")
    parser.add_argument("--models-dir", type=Path, help="default var/models/kicks")
    parser.add_argument(
        "--if-missing",
        action="store_true",
        help="train only when no model is saved or the form store is empty (make run)",
    )
    args = parser.parse_args(argv)
    if args.if_missing and is_trained(args.database_url, args.models_dir):
        print("a kick model is already trained")
        return 0
    if args.update:
        try:
            summary = update(args.update, args.database_url, args.models_dir, n_jobs=args.n_jobs)
        except FileNotFoundError as exc:
            print(f"error: {exc}; run a full training first", file=sys.stderr)
            return 1
        print(
            f"{summary.cleaning}; counted {summary.counted} new kicks, "
            f"skipped {summary.skipped} already counted"
        )
        if summary.scores_before:
            print(
                "old model on the new kicks: "
                + ", ".join(f"{k} {v:.4f}" for k, v in summary.scores_before.items() if k != "n")
            )
        print(f"new model version {summary.version}" if summary.version else summary.note)
        return 0
    config = TrainConfig(
        events=args.events,
        n_kicks=args.n_kicks,
        seed=args.seed,
        trials=args.trials,
        folds=args.folds,
        test_seasons=args.test_seasons,
        n_jobs=args.n_jobs,
        database_url=args.database_url,
        models_root=args.models_dir,
    )
    result = train(config)
    meta = result.metadata
    print(f"data: {meta['data']['cleaning']} (simulated: {meta['data']['simulated']})")
    print(
        f"CV AUC {meta['cv']['auc_mean']:.4f} over {config.folds} folds, "
        f"{meta['cv']['trials']} trials ({meta['cv']['pruned_trials']} pruned)"
    )
    _print_metrics(meta)
    print(f"saved model {result.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
