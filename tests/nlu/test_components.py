"""Component-level replays R1-R4 and the SpacyTokenizer vs WhitespaceTokenizer evaluation.

Real Rasa components on real messages: Rasa's ``WhitespaceTokenizer`` and
``SpacyTokenizer`` (fed by our ``SpacyNLP`` on the built blank-English pipeline) and the
``SentenceEmbeddingFeaturizer`` with the packaged all-MiniLM-L6-v2.

Measured outcome of the tokenizer comparison (asserted below): both tokenizers keep
Devanagari, Arabic and Cyrillic words whole with exact offsets; the whitespace tokenizer
keeps a Chinese sentence as a single token (no spaces), as does spaCy's blank English
tokenizer; spaCy splits punctuation off words ("order?" -> "order", "?") and emoji off
each other ("🙏🇬🇧🔥" -> "🙏", "🇬", "🇧", "🔥") where the whitespace tokenizer, which strips
punctuation, leaves an emoji run as one token. SpacyTokenizer is therefore used for its
offsets-preserving punctuation split and because SpacyEntityExtractor needs it.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.spacy_tokenizer import SpacyTokenizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.embedding_model import default_model_path
from bot.nlu.featurizer import SentenceEmbeddingFeaturizer
from bot.nlu.segments import SEGMENT_FEATURES
from bot.nlu.spacy_nlp import SpacyNLP

R1 = ["", "   ", "\n\t"]
R2 = ["👍", "🙏🇬🇧🔥", "❤️❤️❤️", "thanks 🙏"]
R3 = [
    "क्या आपके पास लाल जूते हैं",
    "هل لديكم أحذية حمراء",
    "你们有红色的鞋子吗",
    "у вас есть красные туфли",
]
R4 = [pytest.param("refund " * 2_857, id="r4_19999_chars")]


@pytest.fixture(scope="module")
def spacy_nlp(spacy_dir, tmp_path_factory) -> SpacyNLP:
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    context = ExecutionContext(graph_schema=None, node_name="spacy")  # type: ignore[arg-type]
    return SpacyNLP.create({"model": str(spacy_dir)}, storage, Resource("spacy"), context)


def test_a_missing_pipeline_is_built_from_data_files_without_a_database(tmp_path, env):
    # a fresh clone: no var/spacy folder, and no shop database can be opened
    env.set("DATABASE_URL", f"sqlite:///{tmp_path / 'missing' / 'shop.db'}")
    folder = tmp_path / "spacy" / "en_touchline"
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    context = ExecutionContext(graph_schema=None, node_name="spacy")  # type: ignore[arg-type]
    SpacyNLP.create({"model": str(folder)}, storage, Resource("spacy"), context)
    lines = (folder / "entity_ruler" / "patterns.jsonl").read_text().splitlines()
    labels = {json.loads(line)["label"] for line in lines}
    assert {"brand", "product_category", "colour", "kicker"} <= labels
    assert not (tmp_path / "missing").exists()


@pytest.fixture(scope="module")
def featurizer() -> SentenceEmbeddingFeaturizer:
    return SentenceEmbeddingFeaturizer(
        {**SentenceEmbeddingFeaturizer.get_default_config(), "alias": "minilm"}, "minilm"
    )


def spacy_tokens(spacy_nlp: SpacyNLP, text: str) -> list:
    message = Message(data={TEXT: text})
    spacy_nlp.process([message], spacy_nlp.provide())
    SpacyTokenizer(SpacyTokenizer.get_default_config()).process([message])
    return message.get(TOKENS_NAMES[TEXT])


def whitespace_tokens(text: str) -> list:
    message = Message(data={TEXT: text})
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
    return message.get(TOKENS_NAMES[TEXT])


@pytest.mark.parametrize("text", R2 + R3 + ["Where's my order? #TL-100, thanks!"])
def test_token_offsets_match_the_original_string(spacy_nlp, text):
    for tokens in (spacy_tokens(spacy_nlp, text), whitespace_tokens(text)):
        assert tokens
        for token in tokens:
            assert text[token.start : token.end] == token.text


@pytest.mark.parametrize("text", R3[:2] + R3[3:])
def test_r3_words_are_kept_whole(spacy_nlp, text):
    words = text.split()
    assert [t.text for t in spacy_tokens(spacy_nlp, text)] == words
    assert [t.text for t in whitespace_tokens(text)] == words


def test_spacy_splits_punctuation_and_emoji(spacy_nlp):
    assert [t.text for t in spacy_tokens(spacy_nlp, "order?")] == ["order", "?"]
    assert [t.text for t in whitespace_tokens("order?")] == ["order"]
    # spaCy: one token per pictograph, and the flag as its two regional indicators
    assert [t.text for t in spacy_tokens(spacy_nlp, "🙏🇬🇧🔥")] == ["🙏", "🇬", "🇧", "🔥"]
    assert len(whitespace_tokens("🙏🇬🇧🔥")) == 1


@pytest.mark.parametrize("text", R1 + R2 + R3 + R4)
@pytest.mark.parametrize("tokenizer", ["spacy", "whitespace"])
def test_featurizer_shapes_for_replays(spacy_nlp, featurizer, text, tokenizer):
    message = Message(data={TEXT: text})
    if tokenizer == "spacy":
        spacy_nlp.process([message], spacy_nlp.provide())
        SpacyTokenizer(SpacyTokenizer.get_default_config()).process([message])
    else:
        WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
    featurizer.process([message])
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    sequence, sentence = message.get_dense_features(TEXT)
    if not tokens:
        assert sequence is None and sentence is None
        return
    assert sentence.features.shape == (1, 384)
    assert sequence.features.shape == (len(tokens), 384)
    assert np.isfinite(sequence.features).all() and np.isfinite(sentence.features).all()


def test_batched_training_equals_single_messages(featurizer):
    texts = ["where is my order", "thanks 🙏", "क्या आपके पास लाल जूते हैं", "hello"]
    batch = [Message(data={TEXT: t, "intent": "x"}) for t in texts]
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    data = TrainingData(batch)
    tokenizer.process_training_data(data)
    fresh = SentenceEmbeddingFeaturizer(
        {**SentenceEmbeddingFeaturizer.get_default_config(), "alias": "b", "cache_size": 0}, "b"
    )
    fresh.process_training_data(data)
    for text, batched in zip(texts, batch):
        single = Message(data={TEXT: text})
        tokenizer.process([single])
        fresh.process([single])
        for a, b in zip(batched.get_dense_features(TEXT), single.get_dense_features(TEXT)):
            assert np.allclose(a.features, b.features, atol=1e-4)


def test_cache_returns_the_same_features(featurizer):
    first, second = Message(data={TEXT: "cache me"}), Message(data={TEXT: "cache me"})
    for message in (first, second):
        WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
        featurizer.process([message])
    assert "cache me" in featurizer._cache
    assert np.array_equal(
        first.get_dense_features(TEXT)[1].features, second.get_dense_features(TEXT)[1].features
    )


@pytest.mark.parametrize("text", ["where is my order", "thanks 🙏", *R4])
def test_pooling_layers_concatenate_unit_layer_means(featurizer, text):
    pooled = SentenceEmbeddingFeaturizer(
        {**SentenceEmbeddingFeaturizer.get_default_config(), "alias": "p",
         "pooling_layers": [1, -1], "cache_size": 0}, "p"
    )
    plain, layered = Message(data={TEXT: text}), Message(data={TEXT: text})
    for message, component in ((plain, featurizer), (layered, pooled)):
        WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
        component.process([message])
    (seq_plain, sent_plain), (seq_layered, sent_layered) = (
        plain.get_dense_features(TEXT), layered.get_dense_features(TEXT)
    )
    assert sent_layered.features.shape == (1, 768)
    blocks = sent_layered.features.reshape(2, 384)
    assert np.allclose(np.linalg.norm(blocks, axis=1), 1.0, atol=1e-5)
    # all-MiniLM-L6-v2's own embedding is the normalised mean of its last layer
    assert np.allclose(blocks[1], sent_plain.features[0], atol=1e-4)
    assert not np.allclose(blocks[0], blocks[1], atol=1e-2)
    assert np.allclose(seq_layered.features, seq_plain.features, atol=1e-4)


LONG = "my parcel " * 200  # beyond the model's 256 tokens: truncated the same way


@pytest.mark.parametrize("text", R1 + R2 + R3 + R4 + ["where is my order TL-10023?", LONG])
def test_ctranslate2_engine_matches_torch(featurizer, text):
    """The default engine runs the same float32 weights on CTranslate2: same features."""
    on_torch = SentenceEmbeddingFeaturizer(
        {**SentenceEmbeddingFeaturizer.get_default_config(), "alias": "minilm",
         "engine": "torch", "cache_size": 0}, "minilm"
    )
    assert featurizer._fast is not None and on_torch._fast is None
    fast, slow = Message(data={TEXT: text}), Message(data={TEXT: text})
    for message, component in ((fast, featurizer), (slow, on_torch)):
        WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
        component.process([message])
    for a, b in zip(fast.get_dense_features(TEXT), slow.get_dense_features(TEXT)):
        assert a.features.shape == b.features.shape
        assert np.allclose(a.features, b.features, atol=1e-4)


def test_model_ctranslate2_cannot_pool_falls_back_to_torch(tmp_path, caplog):
    """A CLS-pooled copy of the model is not supported on CTranslate2: torch runs it."""
    source = Path(default_model_path())
    model = tmp_path / "cls-pooled"
    shutil.copytree(source, model)
    pooling = json.loads((model / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_cls_token=True, pooling_mode_mean_tokens=False)
    (model / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    with caplog.at_level(logging.WARNING, logger="bot.nlu.featurizer"):
        component = SentenceEmbeddingFeaturizer(
            {**SentenceEmbeddingFeaturizer.get_default_config(), "alias": "cls",
             "model_name_or_path": str(model)}, "cls"
        )
    assert component._fast is None
    assert "only BERT models with mean pooling" in caplog.text
    message = Message(data={TEXT: "where is my order"})
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
    component.process([message])
    assert message.get_dense_features(TEXT)[1].features.shape == (1, 384)


def test_unknown_engine_is_a_config_error():
    with pytest.raises(InvalidConfigException, match="engine"):
        SentenceEmbeddingFeaturizer.validate_config({"engine": "onnx"})


def test_only_messages_longer_than_the_training_examples_are_split(tmp_path):
    """Training learns the 90th percentile of the examples' word counts (here 9.8); a
    message of two sentences within it is read whole, with no extra encoder pass, and a
    longer one gets one embedding per sentence; loading restores the length."""
    storage, resource = LocalModelStorage(tmp_path), Resource("embed")
    config = {**SentenceEmbeddingFeaturizer.get_default_config(), "alias": "minilm"}
    context = ExecutionContext(graph_schema=None, node_name="minilm")  # type: ignore[arg-type]
    component = SentenceEmbeddingFeaturizer.create(config, storage, resource, context)
    examples = [
        Message(data={TEXT: "could you please tell me where my order is now", "intent": "a"}),
        Message(data={TEXT: "hello there my friend how are you today", "intent": "b"}),
    ]
    assert component.train(TrainingData(examples)) is resource
    loaded = SentenceEmbeddingFeaturizer.load(config, storage, resource, context)
    assert loaded.long_message_words == component.long_message_words == pytest.approx(9.8)
    short = Message(data={TEXT: "I moved house. Where is my order?"})
    long = Message(data={TEXT: "I moved house last week with my family. Where is my order now?"})
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    tokenizer.process([short])
    loaded.process([short])
    assert short.get(SEGMENT_FEATURES) is None
    assert list(loaded._cache) == [short.get(TEXT)]  # the sentences were never encoded
    tokenizer.process([long])
    loaded.process([long])
    segments = long.get(SEGMENT_FEATURES)
    assert segments.origin == "minilm" and segments.vectors.shape == (2, 384)


def test_an_untrained_featurizer_cannot_train_outside_a_graph():
    bare = SentenceEmbeddingFeaturizer(SentenceEmbeddingFeaturizer.get_default_config(), "x")
    with pytest.raises(ValueError, match="model storage"):
        bare.train(TrainingData([]))
