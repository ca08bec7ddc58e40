"""Routing after a form: finish the request that needed the form's answer."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.cart import ActionCartIssue
from actions.discounts import ActionApplyDiscount
from actions.orders import ActionOrderStatus
from actions.payments import ActionPaymentIssue

PENDING_ACTIONS: dict[str, type[Action]] = {
    "order_status": ActionOrderStatus,
    "cart": ActionCartIssue,
    "payment": ActionPaymentIssue,
    "discount": ActionApplyDiscount,
}
"""Values of the ``pending_request`` slot and the action each one finishes."""


class ActionResumeRequest(Action):
    """Run the action named by the ``pending_request`` slot in-process, then clear the slot.

    Running it here (rather than via ``FollowupAction``) keeps the dialogue a plain rule:
    form submitted → ``action_resume_request`` → listen.
    """

    def name(self) -> str:
        """Rasa action name."""
        return "action_resume_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Events of the resumed action, preceded by clearing ``pending_request``."""
        action = PENDING_ACTIONS.get(tracker.get_slot("pending_request") or "")
        if action is None:
            dispatcher.utter_message(response="utter_anything_else")
            return [SlotSet("pending_request", None)]
        events = await action().run(dispatcher, tracker, domain)
        return [SlotSet("pending_request", None), *events]
