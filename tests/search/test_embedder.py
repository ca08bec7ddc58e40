"""Search embeds with the NLU featurizer's encoder: same model, same path, same vectors."""

from __future__ import annotations

import numpy as np
import pytest
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.embedding_model import default_model_path, load_model
from bot.nlu.featurizer import SentenceEmbeddingFeaturizer
from bot.search.embedder import THREADS, get_embedder

TEXTS = [
    "red running shoes under $50",
    "thanks 🙏",  # spelled out for the tokenizer by both, as the featurizer always did
    "Essence Mascara Lash Princess: popular mascara known for its volumizing effects",
    "",
    "you",
    "lipstick " * 400,  # beyond the model's 256 tokens: truncated the same way
]


def featurizer_sentences(texts: list[str]) -> np.ndarray:
    """The sentence features of ``config.yml``'s featurizer (``threads: 1``) for ``texts``."""
    component = SentenceEmbeddingFeaturizer(
        {**SentenceEmbeddingFeaturizer.get_default_config(), "alias": "minilm",
         "threads": 1, "cache_size": 0}, "minilm")
    rows = []
    for text in texts:
        message = Message(data={TEXT: text})
        WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
        component.process([message])
        rows.append(message.get_dense_features(TEXT, ["minilm"])[1].features[0])
    return np.stack(rows)


def test_search_vectors_are_the_featurizers_sentence_embeddings():
    embedder = get_embedder()
    search = embedder.embed(TEXTS)
    assert search.dtype == np.float32 and search.shape == (len(TEXTS), embedder.dim)
    assert np.allclose(search, featurizer_sentences(TEXTS), atol=1e-4)
    assert np.allclose(np.linalg.norm(search, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("text", TEXTS[:2])
def test_a_query_embeds_as_in_a_batch(text):
    vector = get_embedder().embed_one(text)
    assert not vector.flags.writeable
    assert np.allclose(vector, get_embedder().embed([text, "something else"])[0], atol=1e-5)


def test_search_runs_on_ctranslate2_with_the_featurizers_loaded_model():
    embedder = get_embedder()
    assert embedder.fast is not None  # the CTranslate2 forward pass, as the featurizer's
    assert embedder.model is load_model(default_model_path(), THREADS)  # loaded once
