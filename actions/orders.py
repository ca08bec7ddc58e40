"""Order status: ask for the number if missing, look it up, report status and delivery."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.base import ShopAction, ask_with_form, customer_id_for
from actions.repair import form_answer
from bot.config import settings
from bot.identity.metadata import verified_customer
from bot.store.customers import normalise_order_number
from bot.store.identity import lookup_blocked, record_lookup_failure
from bot.store.orders import OrderStatus, customer_orders, find_guest_order, find_order
from bot.support.answers import email_in, order_number_in
from bot.support.wording import (
    NO_OTHER_ORDERS,
    cancel_order,
    change_address,
    order_not_found,
    order_status,
    other_orders,
    why_late,
)


class ActionOrderStatus(ShopAction):
    """Report an order's status, carrier and expected date; unknown numbers offer a human.

    A verified customer sees only their own orders.  An anonymous visitor needs the order
    number and the e-mail address of that order together (the form asks for both); failed
    tries are counted per conversation, order number and e-mail address, and after
    ``$TOUCHLINE_LOOKUP_ATTEMPTS`` (5) in an hour on any of them the look-up is refused.

    Follow-ups use the order last shown (the ``last_order`` slot): why it is late, whether
    its address can change, cancelling it (both offer a person), "not that one" (the
    customer's other orders); a new order number is a new look-up.
    """

    topic = "order"

    def name(self) -> str:
        """Rasa action name."""
        return "action_order_status"

    def handle(
        self, session: Session, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        """See the class docstring."""
        number = tracker.get_slot("order_id")
        known = customer_id_for(session, tracker)
        email = tracker.get_slot("order_email")
        asked = self.own_follow_up(tracker)
        last = tracker.get_slot("last_order") or {}
        kind = asked.kind if asked else None
        if kind == "lookup":
            number = order_number_in(tracker.latest_message.get("text") or "") or number
            email = email or last.get("email")
        elif kind is not None and not number and last.get("number"):
            number, email = last["number"], email or last.get("email")
        if kind == "other_order" and known is not None and last.get("number"):
            others = [o for o in customer_orders(session, known) if o.number != last["number"]]
            dispatcher.utter_message(text=other_orders(others) if others else NO_OTHER_ORDERS)
            return [SlotSet("topic", self.topic)]
        if not number or (known is None and not email):
            return ask_with_form("order_status_form", "order_status")
        shown = normalise_order_number(number) or number
        done = [SlotSet("order_id", None), SlotSet("order_email", None),
                SlotSet("topic", self.topic)]
        if known is not None:
            order = find_order(session, number)
            found = order if order is not None and order.customer_id == known else None
        else:
            keys = [f"conversation:{tracker.sender_id}", f"order:{shown}",
                    f"email:{email.lower()}"]
            if lookup_blocked(session, keys, settings().lookup_attempts):
                dispatcher.utter_message(response="utter_lookup_blocked")
                return done
            found = find_guest_order(session, number, email)
            if found is None:
                record_lookup_failure(session, keys)
        if found is None:
            dispatcher.utter_message(text=order_not_found(shown, signed_in=known is not None))
            return [*done, FollowupAction("utter_offer_human")]
        context = SlotSet("last_order", {"number": found.number, "email": email})
        answer = FOLLOW_UP_ANSWERS.get(kind or "")
        if answer is None:
            dispatcher.utter_message(text=order_status(found))
            return [*done, context]
        dispatcher.utter_message(text=answer(found))
        offer = kind in ("change_address", "cancel") and found.status in (
            "processing", "shipped", "delayed", "delivered")
        return [*done, context, *([FollowupAction("utter_offer_human")] if offer else [])]


FOLLOW_UP_ANSWERS: dict[str, Callable[[OrderStatus], str]] = {
    "why_late": why_late, "change_address": change_address, "cancel": cancel_order,
}
"""The order follow-ups answered in their own words (the rest get the order's status)."""


class ValidateOrderStatusForm(FormValidationAction):
    """Accept only an order number, and, from an anonymous visitor, the order's e-mail."""

    def name(self) -> str:
        """Rasa action name."""
        return "validate_order_status_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """``order_id`` and ``order_email``; a customer a channel verified is not asked
        for the e-mail address."""
        if verified_customer(tracker.events) is None:
            return domain_slots
        return [slot for slot in domain_slots if slot != "order_email"]

    def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,  # noqa: ANN401
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Normalise to ``TL-nnnnn``; anything else is answered and asked again (see
        :func:`actions.repair.form_misunderstood`); "stop" leaves the question."""
        return form_answer(tracker, dispatcher, "order_id", order_number_in(str(value or "")))

    def validate_order_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,  # noqa: ANN401
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Take the e-mail address in the answer; anything else is answered and asked
        again; "stop" leaves the question."""
        text = tracker.latest_message.get("text") or ""
        return form_answer(tracker, dispatcher, "order_email",
                           email_in(text) or email_in(str(value or "")))
