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
from bot.dialogue.followups import PATTERNS
from bot.store.carts import view_cart
from bot.store.discounts import apply_code, usable_codes
from bot.support.answers import discount_code_in
from bot.support.wording import (
    NO_CODE_IN_CONTEXT,
    applied_already,
    discount_result,
    usable_codes_answer,
    why_not,
)

CONTEXT_SLOT = "last_discount"
"""Slot with the last code checked: ``{"code", "reason", "detail"}`` (a
:class:`bot.store.discounts.DiscountResult`'s)."""
WHICH_CODES_RE = dict(PATTERNS["discount"])["which_codes"]
""""Which codes can I use?": answered with the codes, also as a first question."""


class ActionApplyDiscount(ShopAction):
    """Apply the ``discount_code`` slot to the verified customer's cart (anonymous
    visitors are told how to sign in). Follow-ups: "why not?" (the last code's refusal,
    with the cart's figures), "which codes can I use?" (the codes that would apply now),
    another code ("no, I meant SPRING10")."""

    topic = "discount"

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
        text = tracker.latest_message.get("text") or ""
        asked = self.own_follow_up(tracker)
        offered = discount_code_in(text)
        kind = "which_codes" if WHICH_CODES_RE.search(text) and not offered else (
            asked.kind if asked else None)
        events: list[EventType] = [SlotSet("customer_id", cid), SlotSet("topic", self.topic)]
        if kind == "which_codes":
            offers = [(o.code, o.saving) for o in usable_codes(session, cid)]
            dispatcher.utter_message(text=usable_codes_answer(offers))
            return events
        if kind == "why_not" and not code:
            dispatcher.utter_message(text=self._why_not(session, cid, tracker))
            return events
        if kind == "code":
            code = offered or code
        if not code:
            return [SlotSet("customer_id", cid), *ask_with_form("discount_form", "discount")]
        result = apply_code(session, cid, code)
        dispatcher.utter_message(text=discount_result(result))
        return [*events, SlotSet("discount_code", None), SlotSet(CONTEXT_SLOT, {
            "code": result.code, "reason": result.reason, "detail": result.detail})]

    @staticmethod
    def _why_not(session: Session, cid: int, tracker: Tracker) -> str:
        last = tracker.get_slot(CONTEXT_SLOT) or {}
        if not last.get("code"):
            return NO_CODE_IN_CONTEXT
        if last.get("reason") in ("applied", "already_applied"):
            return applied_already(last["code"])
        cart = view_cart(session, cid)
        return why_not(last["code"], last.get("reason") or "", last.get("detail"),
                       cart.subtotal if cart else None)


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
