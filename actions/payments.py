"""Payment problems: last attempts, declines in plain words, accepted methods, double charges."""

from __future__ import annotations

import re

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import ShopAction, customer_id_for, sign_in_needed
from bot.store.payments import (
    customer_country,
    find_double_charge,
    methods_for_country,
    recent_payments,
)
from bot.store.tickets import open_ticket
from bot.support.summary import conversation_summary, double_charge_summary
from bot.support.wording import (
    NO_DUPLICATE_SEEN,
    double_charge_reply,
    methods_in_country,
    no_payments,
    payment_attempt,
    two_charges,
)

DOUBLE_CHARGE_RE = re.compile(
    r"(?i)\b(twice|double|two times|2 times|2x|charged .{0,20}again|duplicate)\b"
)
"""Phrases of a double-charge complaint in the customer's message."""


class ActionPaymentIssue(ShopAction):
    """Explain the latest payment attempts; a double charge opens a refund ticket (a
    verified customer's only: anonymous visitors are told how to sign in)."""

    def name(self) -> str:
        """Rasa action name."""
        return "action_payment_issue"

    def handle(
        self, session: Session, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        """See the class docstring."""
        cid = customer_id_for(session, tracker)
        if cid is None:
            return sign_in_needed(dispatcher)
        events: list[EventType] = [SlotSet("customer_id", cid)]
        if _asked_about_double_charge(tracker):
            return events + self._double_charge(session, dispatcher, tracker, cid)
        attempts = recent_payments(session, cid)
        country = customer_country(session, cid)
        methods = ", ".join(methods_for_country(session, country))
        if not attempts:
            dispatcher.utter_message(text=no_payments(methods))
            return events
        latest = attempts[0]
        dispatcher.utter_message(text=payment_attempt(latest))
        if latest.status == "declined":
            dispatcher.utter_message(text=methods_in_country(methods))
        dispatcher.utter_message(response="utter_anything_else")
        return events

    @staticmethod
    def _double_charge(
        session: Session, dispatcher: CollectingDispatcher, tracker: Tracker, cid: int
    ) -> list[EventType]:
        pair = find_double_charge(session, cid)
        summary = conversation_summary(tracker.events)
        if pair:
            first, second = pair
            found = two_charges(first.amount, first.order.number)
            summary = double_charge_summary(first.amount, first.order.number, summary)
            key = f"double_charge:payments:{first.id}-{second.id}"
        else:
            found = NO_DUPLICATE_SEEN
            key = f"double_charge:customer:{cid}"
        opened = open_ticket(session, tracker.sender_id, cid, "double_charge", summary,
                             takeover=False, dedup_key=key)
        ticket = opened.ticket
        dispatcher.utter_message(text=double_charge_reply(found, ticket.id, opened.created))
        return [SlotSet("ticket_id", ticket.id)]


def _asked_about_double_charge(tracker: Tracker) -> bool:
    """Whether the latest ``payment_issue`` message (maybe before a form) was about a double
    charge."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            intent = (event.get("parse_data") or {}).get("intent", {}).get("name")
            if intent == "payment_issue":
                return bool(DOUBLE_CHARGE_RE.search(event.get("text") or ""))
    return False
