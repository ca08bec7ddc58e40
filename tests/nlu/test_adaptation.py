"""SetFit-style adaptation of MiniLM's top layers (bot/nlu/adaptation.py) and its use by the
``SentenceEmbeddingFeaturizer``: trained, persisted in the model and loaded inside a real
Rasa graph, run on CTranslate2 at parse time."""

from __future__ import annotations

import asyncio
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.adaptation import (
    AdaptSettings,
    adapt_top_layers,
    embed_states,
    lower_states,
    split_index,
)
from bot.nlu.embedding_model import default_model_path, load_model
from bot.nlu.featurizer import LAYERS_FILE, SentenceEmbeddingFeaturizer
from tests.nlu.conftest import FIXTURES, write_config

INTENTS = {
    "order_status": ["where is my parcel", "has my order shipped yet", "track my delivery",
                     "when will my package arrive"],
    "refund": ["I want my money back", "how do I get a refund", "refund my purchase please",
               "can I return this for a refund"],
    "sizes": ["what size should I buy", "do these run small", "is there a size chart",
              "which size fits a wide foot"],
    "opening": ["when are you open", "what time does the shop close", "are you open on sunday",
                "opening hours please"],
}
SMALL = AdaptSettings(epochs=8.0, max_seconds=120.0)
"""Enough steps on 16 examples to move them (the default caps the loop at 20 s)."""


@pytest.fixture(scope="module")
def model():  # noqa: ANN201 (SentenceTransformer)
    return load_model(default_model_path(), 1)


def _texts_labels() -> tuple[list[str], list[str]]:
    pairs = [(t, i) for i, texts in INTENTS.items() for t in texts]
    return [t for t, _ in pairs], [i for _, i in pairs]


def _separation(vectors: np.ndarray, labels: list[str]) -> float:
    """Mean cosine similarity within intents minus between intents (unit rows)."""
    sim = vectors @ vectors.T
    names = np.array(labels, dtype=object)
    same = names[:, None] == names[None, :]
    off = ~np.eye(len(labels), dtype=bool)
    return float(sim[same & off].mean() - sim[~same].mean())


def test_unadapted_top_layers_reproduce_the_model(model):
    texts, _ = _texts_labels()
    layers = model[0].auto_model.encoder.layer[split_index(model, 2) :]
    ours = embed_states(model, layers, lower_states(model, texts, 2))
    assert np.abs(ours - model.encode(texts, normalize_embeddings=True)).max() < 1e-5


def test_adaptation_pulls_each_intents_examples_together(model):
    texts, labels = _texts_labels()
    states = lower_states(model, texts, SMALL.top_layers)
    before_weights = [p.detach().clone() for p in model[0].auto_model.parameters()]
    layers = adapt_top_layers(model, states, labels, SMALL)
    assert layers is not None
    frozen = model[0].auto_model.encoder.layer[split_index(model, SMALL.top_layers) :]
    before = _separation(embed_states(model, frozen, states), labels)
    after = _separation(embed_states(model, layers, states), labels)
    assert after > before + 0.1, (before, after)
    # the shared model (also product search's) keeps its weights
    for old, new in zip(before_weights, model[0].auto_model.parameters()):
        assert torch.equal(old, new)


def test_one_intent_gives_nothing_to_adapt(model):
    texts = INTENTS["refund"]
    states = lower_states(model, texts, 2)
    assert adapt_top_layers(model, states, ["refund"] * len(texts), SMALL) is None
    with pytest.raises(ValueError, match="top_layers"):
        split_index(model, 7)


def test_unknown_adapt_settings_are_a_config_error():
    config = {**SentenceEmbeddingFeaturizer.get_default_config(), "adapt_settings": {"lr": 1}}
    with pytest.raises(InvalidConfigException, match="adapt_settings"):
        SentenceEmbeddingFeaturizer(config, "minilm")


def _sentence(component: SentenceEmbeddingFeaturizer, text: str) -> np.ndarray:
    message = Message(data={TEXT: text})
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
    component.process([message])
    return message.get_dense_features(TEXT)[1].features.reshape(-1)


def test_featurizer_stores_and_loads_the_adapted_layers(tmp_path):
    """``adapt: true``: training writes the layers into the resource; a loaded component
    embeds with them on CTranslate2 (same features as torch) and differs from the
    packaged weights; the component that trained uses them at once too."""
    storage, resource = LocalModelStorage(tmp_path), Resource("embed")
    settings = {"epochs": SMALL.epochs, "max_seconds": SMALL.max_seconds}
    config = {**SentenceEmbeddingFeaturizer.get_default_config(), "alias": "minilm",
              "adapt": True, "adapt_settings": settings}
    context = ExecutionContext(graph_schema=None, node_name="minilm")  # type: ignore[arg-type]
    trained = SentenceEmbeddingFeaturizer.create(config, storage, resource, context)
    texts, labels = _texts_labels()
    examples = [Message(data={TEXT: t, "intent": i}) for t, i in zip(texts, labels)]
    examples.append(Message(data={TEXT: "what is the weather", "intent": "out_of_scope"}))
    trained.train(TrainingData(examples))
    with storage.read_from(resource) as directory:
        assert (directory / LAYERS_FILE).exists()
    loaded = SentenceEmbeddingFeaturizer.load(config, storage, resource, context)
    on_torch = SentenceEmbeddingFeaturizer.load({**config, "engine": "torch"}, storage,
                                                resource, context)
    packaged = SentenceEmbeddingFeaturizer({**config, "adapt": False}, "minilm")
    assert loaded._fast is not None and on_torch._fast is None
    text = "my parcel has not arrived"
    fast, slow = _sentence(loaded, text), _sentence(on_torch, text)
    assert np.allclose(fast, slow, atol=1e-4)
    assert np.allclose(fast, _sentence(trained, text), atol=1e-4)
    assert np.abs(fast - _sentence(packaged, text)).max() > 1e-2


def test_rasa_train_packs_the_adapted_layers_and_parses_with_them(tmp_path):
    """``rasa train nlu`` (``train_nlu``) with ``adapt: true``: the tarball holds the layers
    and the loaded model gets the fixture's own examples right."""
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    pipeline = [
        {"name": "WhitespaceTokenizer"},
        {"name": "CountVectorsFeaturizer"},
        {"name": "bot.nlu.featurizer.SentenceEmbeddingFeaturizer", "alias": "minilm",
         "adapt": True, "adapt_settings": {"epochs": 2.0}},
        {"name": "bot.nlu.classifier.IntentClassifier", "cv_folds": 3},
    ]
    config = write_config(tmp_path / "config.yml", pipeline)
    model = Path(train_nlu(str(config), str(FIXTURES / "nlu.yml"), str(tmp_path / "models")))
    with tarfile.open(model) as tar:
        assert any(name.endswith(LAYERS_FILE) for name in tar.getnames())
    agent = Agent.load(str(model))
    data = RasaYAMLReader().read(FIXTURES / "nlu.yml")
    examples = [e for e in data.intent_examples if e.get("intent") != "out_of_scope"][:20]
    loop = asyncio.new_event_loop()
    names = [
        loop.run_until_complete(agent.parse_message(str(e.get(TEXT))))["intent"]["name"]
        for e in examples
    ]
    loop.close()
    right = sum(name == e.get("intent") for name, e in zip(names, examples))
    assert right >= 18, list(zip(names, [e.get("intent") for e in examples]))
