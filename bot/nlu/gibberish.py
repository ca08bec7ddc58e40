"""A message none of whose words is known is not understood, whatever intent scored best.

Without it, "blorf quandle zix" was a product search and "vrrrm plok" a goodbye: every
message gets some intent, and nonsense lands near short intents' examples. The
:class:`bot.nlu.spelling.SpellingCorrector` marks a message whose every word is neither a
training word, a lookup-table word, a whole word of the sentence encoder's vocabulary, nor
correctable into a training word (:data:`bot.nlu.spelling.GIBBERISH`); this component,
placed after the intent classifier, makes such a message ``nlu_fallback`` (confidence 1),
so the dialogue asks to rephrase and, the second time in a row, offers a person.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.spelling import GIBBERISH

FALLBACK = "nlu_fallback"
"""Rasa's fallback intent name (``rasa.shared.constants.DEFAULT_NLU_FALLBACK_INTENT_NAME``)."""


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class GibberishGate(GraphComponent):
    """Turns the intent of a message marked :data:`bot.nlu.spelling.GIBBERISH` into
    ``nlu_fallback``; other messages pass unchanged. Stateless."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GibberishGate:
        """Create the component (it has no state)."""
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        """Set ``nlu_fallback`` (confidence 1.0, first in the ranking) on marked messages.

        Args:
            messages: parsed messages, after the intent classifier.

        Returns:
            The same messages.
        """
        for message in messages:
            if not message.get(GIBBERISH):
                continue
            fallback = {"name": FALLBACK, "confidence": 1.0}
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or []
                       if r.get("name") != FALLBACK]
            message.set(INTENT, fallback, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [fallback, *ranking], add_to_output=True)
        return messages
