"""``TakeoverPolicy``: keeps the assistant silent while a human agent owns a conversation.

While the ``human_takeover`` slot is true (set by ``action_handoff``), every user message is
answered with ``action_takeover_check`` (it asks the shop database whether the takeover
ticket is still open, and says nothing if so) followed by ``action_listen``.  Once an agent
closes the ticket, the check clears the slot and the assistant answers again.  The database
ticket is the source of truth, so closing it silences or frees the bot on every channel.

The policy has no training data; its predictions carry confidence 1.0, priority 7 (above
``RulePolicy``'s 6) and ``is_no_user_prediction=True`` so that they also win over an active
form's happy-path prediction (``rasa/core/policies/ensemble.py::_pick_best_policy``).
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction, confidence_scores_for
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

TAKEOVER_SLOT = "human_takeover"
TAKEOVER_CHECK_ACTION = "action_takeover_check"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False
)
class TakeoverPolicy(Policy):
    """Predict ``action_takeover_check`` then ``action_listen`` during a human takeover."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Default config: ``priority`` 7 (RulePolicy has 6)."""
        return {"priority": 7}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Any = None,  # noqa: ANN401  (Rasa passes None or a TrackerFeaturizer)
    ) -> None:
        """See :class:`rasa.core.policies.policy.Policy`."""
        super().__init__(config, model_storage, resource, execution_context, featurizer)

    def train(
        self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        """Nothing to learn; returns the policy's resource."""
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Predict the takeover action, or abstain with all-zero probabilities.

        Args:
            tracker: the conversation so far.
            domain: the model's domain; the check action must be in it.
            rule_only_data: unused.

        Returns:
            A prediction with confidence 1.0 for the chosen action, or all zeros.
        """
        action = self._takeover_action(tracker)
        if action is None or action not in domain.action_names_or_texts:
            return self._prediction(self._default_predictions(domain))
        return self._prediction(
            confidence_scores_for(action, 1.0, domain), is_no_user_prediction=True
        )

    @staticmethod
    def _takeover_action(tracker: DialogueStateTracker) -> str | None:
        last_action = tracker.latest_action_name
        if last_action == TAKEOVER_CHECK_ACTION:
            return ACTION_LISTEN_NAME
        if tracker.get_slot(TAKEOVER_SLOT) and last_action == ACTION_LISTEN_NAME:
            return TAKEOVER_CHECK_ACTION
        return None
