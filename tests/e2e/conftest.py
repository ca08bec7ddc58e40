"""Session fixtures: one running Rasa + action server stack (on the suite's one trained
model, ``model`` in ``tests/conftest.py``), and headless Chromium for the browser tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from testing.stack import Stack, prepare_features, stack_env

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


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
