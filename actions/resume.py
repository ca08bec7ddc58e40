"""Routing after a form: finish the request that needed the form's answer."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.cart import ActionCartIssue
from actions.discounts import ActionApplyDiscount
from actions.orders import ActionOrderStatus
from actions.payments import ActionPaymentIssue
from actions.repair import LEFT, OFFER_HUMAN

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
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Events of the resumed action, preceded by clearing ``pending_request``.

        A form stopped by its validator (:mod:`actions.repair`) resumes nothing: after
        misunderstandings a person is offered, after "stop" the customer hears "no problem".
        """
        pending = tracker.get_slot("pending_request")
        if pending == OFFER_HUMAN:
            return [SlotSet("pending_request", None), FollowupAction("utter_offer_human")]
        if pending == LEFT:
            dispatcher.utter_message(response="utter_no_handoff")
            return [SlotSet("pending_request", None)]
        action = PENDING_ACTIONS.get(pending or "")
        if action is None:
            dispatcher.utter_message(response="utter_anything_else")
            return [SlotSet("pending_request", None)]
        events = await action().run(dispatcher, tracker, domain)
        return [SlotSet("pending_request", None), *events]
