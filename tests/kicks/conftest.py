"""Shared fixtures: a real SQLite database file and a small trained model (8,000
simulated kicks, 2 Optuna trials, 3 folds) in temporary folders, and the full default
simulated feed (67,000 kicks, cleaned)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.kicks.events import clean_events
from bot.kicks.models import logistic_pipeline
from bot.kicks.predictor import KickPredictor
from bot.kicks.simulate import simulate
from bot.kicks.train import TrainConfig, TrainResult, train

SMALL_N = 8000


@pytest.fixture(scope="session")
def small_sim():
    """The simulated feed the shared model is trained on."""
    return simulate(SMALL_N, seed=7)


@pytest.fixture(scope="session")
def small_kicks(small_sim):
    kicks, _ = clean_events(small_sim.events)
    return kicks


@pytest.fixture(scope="session")
def full_kicks():
    """Clean kicks of the default simulated feed (67,000 kicks, seed 2019) and its report."""
    return clean_events(simulate().events)


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> tuple[TrainResult, str, Path]:
    """(result, database URL, models folder) of one small training run."""
    folder = tmp_path_factory.mktemp("kicks")
    url = f"sqlite:///{folder / 'shop.db'}"
    root = folder / "models"
    result = train(
        TrainConfig(
            n_kicks=SMALL_N,
            seed=7,
            trials=2,
            folds=3,
            database_url=url,
            models_root=root,
            progress=False,
        )
    )
    return result, url, root


@pytest.fixture(scope="session")
def predictor(trained) -> KickPredictor:
    _, url, root = trained
    return KickPredictor.load(database_url=url, models_root=root)


@pytest.fixture(scope="session")
def nan_predictor(predictor) -> KickPredictor:
    """The same predictor with a real fitted logistic pipeline forced to output NaN."""
    rng = np.random.default_rng(0)
    rows = [
        predictor._rows([None], float(x), 35.0, "Northern Cup", "penalty", 1, 20, True, 0)[0]
        for x in rng.uniform(5, 50, 200)
    ]
    X = np.empty((len(rows), len(rows[0])), dtype=object)
    X[:] = rows
    pipe = logistic_pipeline().fit(X, (X[:, 0].astype(float) < 25).astype(int))
    pipe.named_steps["model"].coef_[:] = np.nan
    return KickPredictor(pipe, predictor.metadata, predictor.counts, predictor.kickers)
