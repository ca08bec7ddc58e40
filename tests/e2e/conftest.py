"""Session fixtures: one trained model, one running Rasa + action server stack, and
headless Chromium for the browser tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from filelock import FileLock
from playwright.sync_api import Browser, sync_playwright

from testing.stack import Stack, prepare_features, stack_env, train_project_model

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def model(tmp_path_factory, worker_id):
    """The assistant's model trained from the project's data and config
    (:func:`testing.stack.train_project_model`), once per test run: with ``pytest -n``
    (``make test``) the first worker to need it trains it, under a file lock, in the
    run's temporary folder that all workers share, and the others wait for it."""
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent
    with FileLock(str(shared / "e2e-model.lock")):
        trained = shared / "e2e-model" / "e2e.tar.gz"
        if trained.exists():
            return trained
        work = shared / "e2e-model"
        shutil.rmtree(work, ignore_errors=True)  # a worker that failed half-way
        work.mkdir()
        return train_project_model(work)


@pytest.fixture(scope="session")
def stack(model, tmp_path_factory):
    """Rasa server + action server on free ports over a fresh seeded SQLite database."""
    work = tmp_path_factory.mktemp("stack")
    env = stack_env(work)
    prepare_features(env)
    running = Stack(work, model, env).start()
    yield running
    running.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright."""
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
