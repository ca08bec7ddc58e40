"""Discount codes: collect, validate, apply to the cart, or say exactly why not."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import ShopAction, ask_with_form, customer_id_for
from bot.store.discounts import CODE_MAX_LEN, apply_code, normalise_code
from bot.support.wording import discount_result

CODE_RE = re.compile(rf"^[A-Z0-9][A-Z0-9_-]{{2,{CODE_MAX_LEN - 1}}}$")


class ActionApplyDiscount(ShopAction):
    """Apply the ``discount_code`` slot to the customer's cart."""

    def name(self) -> str:
        """Rasa action name."""
        return "action_apply_discount"

    def handle(
        self, session: Session, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[dict[str, Any]]:
        """See the class docstring."""
        cid = customer_id_for(session, tracker)
        if cid is None:
            return ask_with_form("identify_form", "discount")
        code = tracker.get_slot("discount_code")
        if not code:
            return [SlotSet("customer_id", cid), *ask_with_form("discount_form", "discount")]
        result = apply_code(session, cid, code)
        dispatcher.utter_message(text=discount_result(result))
        return [SlotSet("customer_id", cid), SlotSet("discount_code", None)]


class ValidateDiscountForm(FormValidationAction):
    """Take the code from the customer's answer."""

    def name(self) -> str:
        """Rasa action name."""
        return "validate_discount_form"

    def validate_discount_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,  # noqa: ANN401
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        """Pick the code-like word of the answer ("it's spring10" → ``SPRING10``).

        An answer with no code-like word is kept as typed (normalised), so the customer is
        told exactly which code was not found; an empty answer is asked again.
        """
        words = str(value or "").split()
        for word in reversed(words):
            code = normalise_code(word)
            if CODE_RE.match(code):
                return {"discount_code": code}
        code = normalise_code(str(value or ""))
        if not code:
            dispatcher.utter_message(response="utter_ask_discount_code")
            return {"discount_code": None}
        return {"discount_code": code}
