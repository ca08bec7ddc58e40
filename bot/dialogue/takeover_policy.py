"""``SupportGuardPolicy``: a rule-like Rasa 3.6 policy that overrides all others in two
situations the training stories cannot express.

1. **Human takeover.** While the ``human_takeover`` slot is true (a human agent owns the
   conversation, see ``actions/handoff.py``), every user message is answered with
   ``action_takeover_check`` (which asks the database whether the ticket is still open and
   stays silent if so) followed by ``action_listen``: the bot says nothing.
2. **Failed custom action.** When Rasa could not run a custom action or form (the action
   server raised or is unreachable), ``rasa/core/processor.py::_run_action`` logs the
   ``ActionExecuted`` event but drops every event the action would have returned, and the
   user hears nothing.  Touchline's actions always return at least one event or message
   (``actions/base.py``), so an ``ActionExecuted`` of a custom action with nothing after it
   means failure: this policy then predicts ``utter_action_failed`` (an apology), then
   ``action_listen``.  No slot of the failed action was set, so the tracker stays consistent.

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
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

TAKEOVER_SLOT = "human_takeover"
TAKEOVER_CHECK_ACTION = "action_takeover_check"
FAILURE_RESPONSE = "utter_action_failed"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False
)
class SupportGuardPolicy(Policy):
    """Silence during human takeover; apologise when a custom action failed."""

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
        """Predict the guarded action, or abstain with all-zero probabilities.

        Args:
            tracker: the conversation so far.
            domain: the model's domain; guarded actions missing from it are never predicted.
            rule_only_data: unused.

        Returns:
            A prediction with confidence 1.0 for the chosen action, or all zeros.
        """
        action = self._guarded_action(tracker, domain)
        if action is None or action not in domain.action_names_or_texts:
            return self._prediction(self._default_predictions(domain))
        return self._prediction(
            confidence_scores_for(action, 1.0, domain), is_no_user_prediction=True
        )

    @staticmethod
    def _guarded_action(tracker: DialogueStateTracker, domain: Domain) -> str | None:
        latest = tracker.events[-1] if tracker.events else None
        watched = set(domain.user_actions) | set(domain.form_names)
        watched.discard(ACTION_LISTEN_NAME)
        if isinstance(latest, ActionExecuted) and latest.action_name in watched:
            return FAILURE_RESPONSE  # the custom action returned nothing: it failed
        last_action = tracker.latest_action_name
        if last_action in (FAILURE_RESPONSE, TAKEOVER_CHECK_ACTION):
            return ACTION_LISTEN_NAME
        if tracker.get_slot(TAKEOVER_SLOT) and last_action == ACTION_LISTEN_NAME:
            return TAKEOVER_CHECK_ACTION
        return None
