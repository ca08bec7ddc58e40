"""Session fixtures: one trained model and one running Rasa + action server stack."""

from __future__ import annotations

import os

import pytest

from bot.runtime.stack import Stack, prepare_features, train_model
from bot.store.schema import init_db


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    """The assistant's model trained from the project's data and config."""
    return train_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def stack(model, tmp_path_factory):
    """Rasa server + action server on free ports over a fresh seeded SQLite database."""
    work = tmp_path_factory.mktemp("stack")
    db_url = f"sqlite:///{work / 'shop.db'}"
    init_db(db_url)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "TOUCHLINE_VAR": str(work),
        "TOUCHLINE_ACTION_TIMEOUT_S": "3",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    prepare_features(env)
    running = Stack(work, model, env).start()
    yield running
    running.close()
