"""Session fixtures: one trained model, one running Rasa + action server stack, and
headless Chromium for the browser tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from playwright.sync_api import Browser, sync_playwright

from bot.config import PROJECT_ROOT
from bot.nlu.spacy_build import build
from testing.stack import Stack, prepare_features, stack_env, train_model

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    """The assistant's model trained from the project's data and config.

    Its spaCy pipeline is built from the repository's data files in the test's own folder,
    not taken from ``var/spacy``, so a clean clone and a used checkout train the same model
    (and :func:`train_model` proves training opens no database).
    """
    work = tmp_path_factory.mktemp("model")
    spacy_dir = work / "en_touchline"
    build(spacy_dir)
    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())
    spacy_nlp = [c for c in config["pipeline"] if c["name"].endswith("SpacyNLP")]
    assert len(spacy_nlp) == 1, "config.yml should load one spaCy pipeline"
    spacy_nlp[0]["model"] = str(spacy_dir)
    (work / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return train_model(work, config=work / "config.yml")


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
