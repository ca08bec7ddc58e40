"""Session fixtures: one trained model and one running Rasa + action server stack."""

from __future__ import annotations

import pytest

from bot.runtime.stack import Stack, prepare_features, stack_env, train_model


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    """The assistant's model trained from the project's data and config."""
    return train_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def stack(model, tmp_path_factory):
    """Rasa server + action server on free ports over a fresh seeded SQLite database."""
    work = tmp_path_factory.mktemp("stack")
    env = stack_env(work)
    prepare_features(env)
    running = Stack(work, model, env).start()
    yield running
    running.close()
