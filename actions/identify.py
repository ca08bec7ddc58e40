"""Identify the customer by order number or e-mail when the channel's sender is unknown."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import ActionFailed, run_in_worker
from actions.repair import form_left, form_misunderstood
from bot.store import customers
from bot.support.answers import email_in, order_number_in, wants_to_leave


def customer_id_by_ref(session: Session, ref: str) -> int | None:
    """Id of the customer with e-mail or order number ``ref``, else ``None``."""
    customer = customers.by_email(session, ref) or customers.by_order_number(session, ref)
    return customer.id if customer is not None else None


class ValidateIdentifyForm(FormValidationAction):
    """Resolve ``customer_ref`` (an e-mail or order number) to the ``customer_id`` slot."""

    def name(self) -> str:
        """Rasa action name."""
        return "validate_identify_form"

    async def validate_customer_ref(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,  # noqa: ANN401
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        """Set ``customer_id`` when the answer holds an e-mail or order number of an
        account; anything else is answered and asked again (see
        :func:`actions.repair.form_misunderstood`); "stop" leaves the question.

        The lookup runs in a worker thread under the actions' time budget
        (:func:`actions.base.run_in_worker`); when it is too slow or fails, the customer
        hears so and is asked again.
        """
        text = tracker.latest_message.get("text") or ""
        if wants_to_leave(text):
            return form_left("customer_ref")
        raw = str(value or "")
        ref = email_in(raw) or order_number_in(raw)
        if ref is None:
            return form_misunderstood(
                tracker, dispatcher, "customer_ref",
                "That isn't an order number or an e-mail address. Please send the order "
                "number (like TL-10042) or the e-mail address you used at checkout.",
            )
        try:
            cid = await run_in_worker(
                self.name(), tracker, dispatcher, lambda session: customer_id_by_ref(session, ref)
            )
        except ActionFailed:
            return {"customer_ref": None}
        if cid is not None:
            return {"customer_ref": ref, "customer_id": cid}
        return form_misunderstood(
            tracker, dispatcher, "customer_ref",
            "I couldn't find an account with that. Please send the order number "
            "(like TL-10042) or the e-mail address you used at checkout.",
        )
