"""Identify the customer by order number or e-mail when the channel's sender is unknown."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.store import customers
from bot.store.db import session_scope


class ValidateIdentifyForm(FormValidationAction):
    """Resolve ``customer_ref`` (an e-mail or order number) to the ``customer_id`` slot."""

    def name(self) -> str:
        """Rasa action name."""
        return "validate_identify_form"

    def validate_customer_ref(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,  # noqa: ANN401
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        """Set ``customer_id`` when the reference matches an account, else ask again."""
        ref = str(value or "").strip()[:200]
        with session_scope() as session:
            customer = customers.by_email(session, ref) or customers.by_order_number(session, ref)
            if customer is not None:
                return {"customer_ref": ref, "customer_id": customer.id}
        dispatcher.utter_message(
            text="I couldn't find an account with that. Please send the order number "
                 "(like TL-10042) or the e-mail address you used at checkout."
        )
        return {"customer_ref": None}
