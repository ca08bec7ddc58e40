"""Payment problems: last attempts, declines in plain words, accepted methods, double charges."""

from __future__ import annotations

import re

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import ShopAction, customer_id_for, sign_in_needed
from bot.dialogue.followups import PATTERNS
from bot.store.payments import (
    PaymentAttempt,
    customer_country,
    find_double_charge,
    methods_for_country,
    payment_methods,
    recent_payments,
)
from bot.store.tickets import open_ticket
from bot.support.followups import method_named
from bot.support.summary import conversation_summary, double_charge_summary
from bot.support.wording import (
    NO_DUPLICATE_SEEN,
    charge_question_answer,
    double_charge_reply,
    method_answer,
    methods_in_country,
    methods_offered,
    no_payments,
    nothing_to_retry,
    payment_attempt,
    retry_answer,
    two_charges,
    unknown_method,
)

DOUBLE_CHARGE_RE = re.compile(
    r"(?i)\b(twice|double|two times|2 times|2x|charged .{0,20}again|duplicate)\b"
)
"""Phrases of a double-charge complaint in the customer's message."""
CHARGE_QUESTION_RE = dict(PATTERNS["payment"])["charge_question"]
"""A question about being charged twice ("will I be charged twice if I retry?"), which is
answered, not a complaint that opens a ticket."""


class ActionPaymentIssue(ShopAction):
    """Explain the latest payment attempts; a double charge opens a refund ticket (a
    verified customer's only: anonymous visitors are told how to sign in). Follow-ups:
    which methods the customer's country can use, whether a named one works, whether a
    retry is safe, whether paying again charges twice."""

    topic = "payment"

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
        events: list[EventType] = [SlotSet("customer_id", cid), SlotSet("topic", self.topic)]
        text = tracker.latest_message.get("text") or ""
        asked = self.own_follow_up(tracker)
        kind = "charge_question" if CHARGE_QUESTION_RE.search(text) else (
            asked.kind if asked else None)
        if kind is None and _asked_about_double_charge(tracker):
            return events + self._double_charge(session, dispatcher, tracker, cid)
        attempts = recent_payments(session, cid)
        country = customer_country(session, cid)
        methods = ", ".join(methods_for_country(session, country))
        if kind is not None:
            dispatcher.utter_message(text=_follow_up_answer(
                session, kind, text, country, methods, attempts[0] if attempts else None))
            return events
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


def _follow_up_answer(
    session: Session, kind: str, text: str, country: str | None, methods: str,
    latest: PaymentAttempt | None,
) -> str:
    """The answer to a payment follow-up of ``kind`` (``methods``, ``method``, ``retry``,
    ``charge_question``) from the customer's country and latest attempt."""
    if kind == "method":
        named = method_named(payment_methods(session, country), text)
        if named is None:
            return unknown_method(methods)
        return method_answer(named.name, named.available, methods)
    if kind in ("retry", "charge_question") and latest is not None:
        declined = latest.status == "declined"
        if kind == "charge_question":
            return charge_question_answer(latest.amount, declined)
        return (retry_answer(latest.amount, latest.decline_code) if declined
                else nothing_to_retry(latest.amount))
    return methods_offered(methods)
