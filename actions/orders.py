"""Order status: ask for the number if missing, look it up, report status and delivery."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import ShopAction, ask_with_form, customer_id_for
from actions.repair import form_answer
from bot.store.customers import normalise_order_number
from bot.store.orders import find_order
from bot.support.answers import order_number_in
from bot.support.wording import order_status


class ActionOrderStatus(ShopAction):
    """Report an order's status, carrier and expected date; unknown numbers offer a human.

    An order of another account is not disclosed when the conversation's customer is known.
    """

    def name(self) -> str:
        """Rasa action name."""
        return "action_order_status"

    def handle(
        self, session: Session, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[dict[str, Any]]:
        """See the class docstring."""
        number = tracker.get_slot("order_id")
        if not number:
            return ask_with_form("order_status_form", "order_status")
        order = find_order(session, number)
        known = customer_id_for(session, tracker)
        if order is None or (known is not None and order.customer_id != known):
            shown = normalise_order_number(number) or number
            dispatcher.utter_message(
                text=f"I couldn't find an order {shown} on your account. Please check the "
                     "number: it's TL followed by five digits, in your confirmation e-mail."
            )
            return [SlotSet("order_id", None), FollowupAction("utter_offer_human")]
        dispatcher.utter_message(text=order_status(order))
        return [SlotSet("order_id", None), SlotSet("customer_id", order.customer_id)]


class ValidateOrderStatusForm(FormValidationAction):
    """Accept only text that contains an order number."""

    def name(self) -> str:
        """Rasa action name."""
        return "validate_order_status_form"

    def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,  # noqa: ANN401
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        """Normalise to ``TL-nnnnn``; anything else is answered and asked again (see
        :func:`actions.repair.form_misunderstood`); "stop" leaves the question."""
        return form_answer(
            tracker, dispatcher, "order_id", order_number_in(str(value or "")),
            "an order number", "That doesn't look like an order number.",
            "It's TL followed by five digits, for example TL-10042.",
        )
