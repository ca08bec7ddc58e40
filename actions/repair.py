"""Repair: answer a misunderstanding, and offer a person after two in a row.

``action_misunderstood`` answers ``nlu_fallback`` and ``out_of_scope`` (rules.yml); the
form validators call :func:`form_misunderstood` when an answer does not fill the slot they
asked for. Both count the turn with :mod:`bot.support.repair`.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, Restarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import TOPIC_ACTIONS, follow_up_in_context
from bot.support.answers import wants_to_leave, what_it_is
from bot.support.language import is_foreign
from bot.support.repair import OFFER_AFTER, SLOT, count_misunderstanding
from bot.support.wording import ENGLISH_ONLY, form_hint

OFFER_HUMAN = "offer_human"
"""``pending_request`` value: the form stopped after a misunderstanding; offer a person."""
LEFT = "left"
"""``pending_request`` value: the customer left the form's question ("stop")."""


def form_misunderstood(
    tracker: Tracker, dispatcher: CollectingDispatcher, slot: str, hint: str
) -> dict[str, Any]:
    """Slot values for a form answer that does not fill ``slot``.

    Args:
        tracker: the conversation, whose latest user message is the answer.
        dispatcher: gets ``hint`` (what the answer was and what is needed) on a first
            misunderstanding.
        slot: the slot the form asked for.
        hint: the sentence to say; the form then asks again.

    Returns:
        ``{slot: None, SLOT: streak}``, and after :data:`OFFER_AFTER` misunderstandings in
        a row also ``requested_slot: None`` (the form stops) and ``pending_request:
        offer_human`` (``action_resume_request`` offers a person).
    """
    count, streak = count_misunderstanding(tracker.events, tracker.get_slot(SLOT))
    if count >= OFFER_AFTER:
        return {slot: None, SLOT: streak, "requested_slot": None, "pending_request": OFFER_HUMAN}
    dispatcher.utter_message(text=hint)
    return {slot: None, SLOT: streak}


def form_answer(
    tracker: Tracker, dispatcher: CollectingDispatcher, slot: str, value: str | None
) -> dict[str, Any]:
    """Slot values for a form's answer: the value, or leaving, or a misunderstanding.

    Args:
        tracker: the conversation, whose latest user message is the answer.
        dispatcher: gets the hint on a misunderstanding.
        slot: the slot the form asked for (a key of
            :data:`bot.support.wording.FORM_HINTS`).
        value: the value found in the answer, ``None`` when there is none.

    Returns:
        ``{slot: value}``; :func:`form_left` for "stop"; else :func:`form_misunderstood`
        with the slot's hint (:func:`bot.support.wording.form_hint`).
    """
    if wants_to_leave(tracker.latest_message.get("text") or ""):
        return form_left(slot)
    if value is not None:
        return {slot: value}
    kind = what_it_is(tracker.latest_message.get("text") or "")
    return form_misunderstood(tracker, dispatcher, slot, form_hint(slot, kind))


def form_left(slot: str) -> dict[str, Any]:
    """Slot values that stop the form without an answer (the customer said "stop")."""
    return {slot: None, "requested_slot": None, "pending_request": LEFT}


class ActionMisunderstood(Action):
    """Say the message was not understood (or is out of scope, or not English); on the
    second misunderstanding in a row stop any form and offer a person."""

    def name(self) -> str:
        """Rasa action name."""
        return "action_misunderstood"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Utter the answer; events: the streak slot, and the offer's ``FollowupAction``.
        A follow-up of the conversation's topic ("why is it late?") is no
        misunderstanding: the topic's action answers it."""
        routed = await answer_follow_up(dispatcher, tracker, domain)
        if routed is not None:
            return routed
        count, streak = count_misunderstanding(tracker.events, tracker.get_slot(SLOT))
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        events: list[EventType] = [SlotSet(SLOT, streak)]
        if is_foreign(tracker.latest_message.get("text") or ""):
            dispatcher.utter_message(text=ENGLISH_ONLY)
        elif intent == "out_of_scope":
            dispatcher.utter_message(response="utter_out_of_scope")
        elif count < OFFER_AFTER:
            dispatcher.utter_message(response="utter_rephrase")
        if count < OFFER_AFTER:
            return events
        if tracker.active_loop_name:
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        return [*events, SlotSet("pending_request", None), FollowupAction("utter_offer_human")]


async def answer_follow_up(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
) -> list[EventType] | None:
    """Run the topic's action when the latest message continues the conversation's topic
    (:func:`actions.base.follow_up_in_context`); ``None`` when it does not."""
    routed = follow_up_in_context(tracker)
    owner = TOPIC_ACTIONS.get(routed.topic) if routed else None
    if owner is None:
        return None
    return await owner().run(dispatcher, tracker, domain)


class ActionStrayReply(Action):
    """A yes, no, hello or thanks that answers no question: a follow-up of the topic
    ("no, I meant TL-10004", "ok, and from the 22?") goes to the topic's action; anything
    else gets :attr:`otherwise` ("Is there anything else I can help with?")."""

    otherwise = "utter_anything_else"
    """The response sent when the message is no follow-up."""

    def name(self) -> str:
        """Rasa action name."""
        return "action_stray_reply"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Events of the topic's action, or none."""
        routed = await answer_follow_up(dispatcher, tracker, domain)
        if routed is not None:
            return routed
        dispatcher.utter_message(response=self.otherwise)
        return []


class ActionNoHandoff(ActionStrayReply):
    """A "no" to the offer of a person: "No problem…", unless it goes on with the topic
    ("no, I meant TL-10004", "no, cancel it")."""

    otherwise = "utter_no_handoff"

    def name(self) -> str:
        """Rasa action name."""
        return "action_no_handoff"


class ActionRestart(Action):
    """Rasa's ``action_restart``, answered here: "start over" forgets the conversation
    (``utter_restart``, then Rasa's ``Restarted``). A message the NLU read as a restart
    that goes on with the topic ("can I try again?", "the first one") is answered by the
    topic's action instead, and nothing is forgotten."""

    def name(self) -> str:
        """Rasa action name (overrides Rasa's default action of that name)."""
        return "action_restart"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """The topic action's events (then listen: no rule follows a restart that did
        not restart, and the core fallback would add "not sure how to help"), or
        ``Restarted``."""
        routed = await answer_follow_up(dispatcher, tracker, domain)
        if routed is not None:
            return [*routed, FollowupAction("action_listen")]
        dispatcher.utter_message(response="utter_restart")
        return [Restarted()]
