"""Discount codes: collect, validate, apply to the cart, or say exactly why not."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.base import ShopAction, ask_with_form, customer_id_for, sign_in_needed
from actions.repair import form_answer
from bot.store.discounts import apply_code
from bot.support.answers import discount_code_in
from bot.support.wording import discount_result


class ActionApplyDiscount(ShopAction):
    """Apply the ``discount_code`` slot to the verified customer's cart (anonymous
    visitors are told how to sign in)."""

    def name(self) -> str:
        """Rasa action name."""
        return "action_apply_discount"

    def handle(
        self, session: Session, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        """See the class docstring."""
        cid = customer_id_for(session, tracker)
        if cid is None:
            return sign_in_needed(dispatcher)
        code = tracker.get_slot("discount_code")
        if not code:
            return [SlotSet("customer_id", cid), *ask_with_form("discount_form", "discount")]
        result = apply_code(session, cid, code)
        dispatcher.utter_message(text=discount_result(result))
        return [SlotSet("customer_id", cid), SlotSet("discount_code", None)]


class ValidateDiscountForm(FormValidationAction):
    """Take the code from the customer's answer, and only a code."""

    def name(self) -> str:
        """Rasa action name."""
        return "validate_discount_form"

    def validate_discount_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,  # noqa: ANN401
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Fill the slot with the code the answer offers ("it's spring10" → ``SPRING10``).

        An answer without one (gibberish, "I have a code", a slash payload, an e-mail) is
        answered as what it is and asked again, or, as the second misunderstanding in a
        row, ends the form with an offer of a person; "stop" leaves the question.
        """
        text = tracker.latest_message.get("text") or ""
        entities = list(tracker.get_latest_entity_values("discount_code"))
        code = discount_code_in(text, entities) or discount_code_in(str(value or ""))
        return form_answer(tracker, dispatcher, "discount_code", code)
