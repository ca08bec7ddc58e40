"""Typos read as the shop's own words before the sentence encoder sees a message.

A misspelt word falls apart into unrelated WordPiece pieces ("recieve" -> "rec", "##ie",
"##ve"), so one typo can move a message's MiniLM embedding far from its intent's examples
and below the out-of-scope threshold: on BANKING77 with 75% of the intents known, a typo in
a fifth of the words cost 21 points of accuracy, nearly all of it in-scope messages
rejected (README, "A new shop's customers").

:class:`Speller` learns the words of the training examples. At parse time a word of four or
more ASCII letters that is neither one of them nor a whole word of the encoder's vocabulary
(so real English words and common transliterated ones such as "hai" are never touched) is
replaced by the closest training word when :func:`difflib.get_close_matches` rates them at
least :data:`CUTOFF` alike. :class:`SpellingCorrector` is the Rasa component: it stores the
vocabulary with the model and puts the corrected text on the message under
:data:`CORRECTED_TEXT`; the message's own text, tokens, entities and every other featurizer
are unchanged, and :class:`bot.nlu.featurizer.SentenceEmbeddingFeaturizer` takes its
sentence embedding from the corrected text.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.embedding_model import default_model_path

CORRECTED_TEXT = "touchline_corrected_text"
"""Message attribute holding the text with typos corrected (absent when nothing changed)."""
GIBBERISH = "touchline_gibberish"
"""Message attribute set (``True``) when no word of the message is known
(:meth:`Speller.is_gibberish`); :class:`bot.nlu.gibberish.GibberishGate` reads it."""

CUTOFF = 0.8
"""Least :class:`difflib.SequenceMatcher` ratio for a correction: one edit in a word of five
letters or more (``2 * 4 / 10``); the same value as product search's spelling cutoff
(:data:`bot.search.relevance.SPELLING_CUTOFF`)."""

MIN_LENGTH = 4
"""Shorter words are never corrected: one edit turns them into too many other words."""

WORD = re.compile(r"[A-Za-z]+")
"""The words a correction may replace: runs of ASCII letters (digits, e-mail addresses,
order numbers and other scripts are left alone)."""

MAX_LOOKUPS = 64
"""Unknown words looked up per message at most (each costs a vocabulary scan); the rest of a
very long or garbled message is left as typed."""

VOCABULARY_FILE = "vocabulary.json"


@dataclass
class Speller:
    """Corrects words towards a vocabulary (see the module docstring).

    Attributes:
        vocabulary: lower-cased words of the training examples.
        encoder_words: lower-cased whole words of the sentence encoder's vocabulary.
    """

    vocabulary: frozenset[str]
    encoder_words: frozenset[str]
    _by_length: dict[int, list[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Index the vocabulary by word length (a match differs by at most a few letters)."""
        self._by_length = defaultdict(list)
        for word in sorted(self.vocabulary):
            self._by_length[len(word)].append(word)

    @staticmethod
    def words_of(texts: Iterable[str]) -> frozenset[str]:
        """The lower-cased words of ``texts`` (runs of ASCII letters, :data:`WORD`)."""
        return frozenset(w.lower() for text in texts for w in WORD.findall(text))

    def _candidates(self, length: int) -> list[str]:
        """Vocabulary words whose length allows a ratio of at least :data:`CUTOFF`."""
        return [w for n in range(length - 2, length + 3) for w in self._by_length.get(n, [])]

    def _unknown(self, lower: str) -> bool:
        """Whether a lower-cased word is long enough and not a training word."""
        return len(lower) >= MIN_LENGTH and lower not in self.vocabulary

    def correct_word(self, word: str) -> str | None:
        """The correction of one word, or ``None`` when it is left as it is."""
        lower = word.lower()
        if not self._unknown(lower) or lower in self.encoder_words:
            return None
        match = difflib.get_close_matches(lower, self._candidates(len(lower)), 1, CUTOFF)
        return match[0] if match else None

    def is_gibberish(self, text: str) -> bool:
        """Whether ``text`` has words (:data:`WORD`) and none of them is known: not a
        training word, not a whole word of the encoder, and not correctable into a
        training word ("blorf quandle zix"). A text of digits or other scripts is not."""
        words = [w.lower() for w in WORD.findall(text)][:MAX_LOOKUPS]
        return bool(words) and not any(
            w in self.vocabulary or w in self.encoder_words or self.correct_word(w)
            for w in words)

    def correct(self, text: str) -> str | None:
        """``text`` with every correctable word replaced, or ``None`` when none was.

        Args:
            text: a message.

        Returns:
            The corrected text (replaced words lower-cased, everything else as it was),
            or ``None``.
        """
        changed, lookups = False, 0

        def replace(match: re.Match[str]) -> str:
            nonlocal changed, lookups
            word = match.group()
            if lookups >= MAX_LOOKUPS:
                return word
            lookups += self._unknown(word.lower())
            fixed = self.correct_word(word)
            changed = changed or fixed is not None
            return fixed if fixed is not None else word

        corrected = WORD.sub(replace, text)
        return corrected if changed else None


def encoder_words(model_path: str | None = None) -> frozenset[str]:
    """Whole words (no ``##`` continuation, ASCII letters) of a WordPiece ``vocab.txt``.

    Args:
        model_path: a sentence-transformers model folder; ``None``: the packaged
            all-MiniLM-L6-v2 (:func:`bot.nlu.embedding_model.default_model_path`).

    Returns:
        The lower-cased words; empty when the folder has no ``vocab.txt``.
    """
    vocab = Path(model_path or default_model_path()) / "vocab.txt"
    if not vocab.is_file():
        return frozenset()
    lines = (line.strip() for line in vocab.read_text(encoding="utf-8").splitlines())
    return frozenset(w.lower() for w in lines if w.isascii() and w.isalpha())


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class SpellingCorrector(GraphComponent):
    """Learns the training examples' words; marks incoming messages' corrected text."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """``model_name_or_path``: the encoder whose vocabulary counts as known words
        (``None``: the packaged all-MiniLM-L6-v2, as the featurizer's default)."""
        return {"model_name_or_path": None}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary: frozenset[str] = frozenset(),
    ) -> None:
        """Create the component (untrained when ``vocabulary`` is empty)."""
        self._config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self.speller = Speller(vocabulary, encoder_words(self._config["model_name_or_path"]))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SpellingCorrector:
        """Create an untrained component."""
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Collect and persist the words of every training example's text and of the
        lookup tables (brands, colours).

        Args:
            training_data: the NLU training data.

        Returns:
            This component's resource.
        """
        texts = [str(m.get(TEXT)) for m in training_data.training_examples if m.get(TEXT)]
        texts += [str(e) for table in training_data.lookup_tables
                  for e in table.get("elements") or [] if isinstance(e, str)]
        words = Speller.words_of(texts)
        self.speller = Speller(words, self.speller.encoder_words)
        with self._storage.write_to(self._resource) as directory:
            (directory / VOCABULARY_FILE).write_text(json.dumps(sorted(words)))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SpellingCorrector:
        """Load the vocabulary; an empty resource gives a component that corrects nothing."""
        try:
            with model_storage.read_from(resource) as directory:
                words = json.loads((directory / VOCABULARY_FILE).read_text())
        except (ValueError, FileNotFoundError):
            words = []
        return cls(config, model_storage, resource, frozenset(words))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training examples are left as written (their words are the vocabulary)."""
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Put the corrected text on each message that has a correctable word.

        Args:
            messages: incoming messages (text only is read).

        Returns:
            The same messages; :data:`CORRECTED_TEXT` set where a word was corrected,
            :data:`GIBBERISH` where no word is known.
        """
        for message in messages:
            text = message.get(TEXT)
            corrected = self.speller.correct(text) if isinstance(text, str) else None
            if corrected is not None:
                message.set(CORRECTED_TEXT, corrected)
            if isinstance(text, str) and self.speller.vocabulary and \
                    self.speller.is_gibberish(text):
                message.set(GIBBERISH, True)
        return messages
