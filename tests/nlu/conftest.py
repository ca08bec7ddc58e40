"""Shared fixtures of the NLU tests: a built spaCy pipeline and one trained Rasa NLU model.

The model is trained once per session with ``rasa.model_training.train_nlu`` (the same
function ``rasa train nlu`` calls) on ``tests/nlu/fixtures/nlu.yml`` with
:data:`PIPELINE`, then loaded with ``Agent.load``. The spaCy folder it was trained with
is deleted before loading, so every parse also proves the tarball is self-contained.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
# a private training cache: the shared ./.rasa/cache races with other `rasa train` runs
os.environ.setdefault("RASA_CACHE_DIRECTORY", tempfile.mkdtemp(prefix="nlu_tests_cache_"))

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]

PIPELINE = [
    {"name": "bot.nlu.spacy_nlp.SpacyNLP", "model": "SPACY_DIR"},
    {"name": "SpacyTokenizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "bot.nlu.spelling.SpellingCorrector"},
    {"name": "bot.nlu.featurizer.SentenceEmbeddingFeaturizer", "alias": "minilm"},
    {"name": "bot.nlu.classifier.IntentClassifier", "cv_folds": 3},
    {"name": "SpacyEntityExtractor", "dimensions": ["brand", "colour", "product_category"]},
    {"name": "EntitySynonymMapper"},
    {"name": "FallbackClassifier", "threshold": 0.3},
]
"""The pipeline of the session model (``SPACY_DIR`` is replaced by the built folder)."""


def write_config(path: Path, pipeline: list[dict]) -> Path:
    """Write an NLU-only Rasa config with ``pipeline`` to ``path``; return ``path``."""
    config = {"recipe": "default.v1", "language": "en", "assistant_id": "test"}
    path.write_text(yaml.safe_dump({**config, "pipeline": pipeline}))
    return path


@pytest.fixture(scope="session")
def spacy_dir(tmp_path_factory) -> Path:
    """The Touchline spaCy pipeline built from ``data/entities`` and ``data/nlu``."""
    from bot.nlu.spacy_build import build

    out = tmp_path_factory.mktemp("spacy") / "en_touchline"
    build(out)
    return out


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory, spacy_dir) -> Path:
    """Tarball of the session model; trained from a copy of ``spacy_dir`` then deleted."""
    from rasa.model_training import train_nlu

    work = tmp_path_factory.mktemp("nlu_model")
    spacy_copy = work / "spacy_copy"
    shutil.copytree(spacy_dir, spacy_copy)
    pipeline = [
        {**c, "model": str(spacy_copy)} if c.get("model") == "SPACY_DIR" else c for c in PIPELINE
    ]
    config = write_config(work / "config.yml", pipeline)
    model = train_nlu(str(config), str(FIXTURES / "nlu.yml"), str(work / "models"))
    shutil.rmtree(spacy_copy)
    return Path(model)


@pytest.fixture(scope="session")
def agent(trained_model):  # noqa: ANN201 (rasa Agent, imported lazily)
    """The session model loaded with ``rasa.core.agent.Agent.load``."""
    from rasa.core.agent import Agent

    return Agent.load(str(trained_model))


@pytest.fixture(scope="session")
def parse(agent):  # noqa: ANN201
    """``parse(text) -> dict``: ``Agent.parse_message`` on one text, as ``/model/parse``."""
    loop = asyncio.new_event_loop()

    def _parse(text: str) -> dict:
        return loop.run_until_complete(agent.parse_message(text))

    yield _parse
    loop.close()
