"""Rasa action ``action_kick_prediction``: answers "what are the odds for <kicker> from
<spot>?" from the slots ``kicker``, ``distance_m``, ``touchline_m`` and ``pitch_spot``
(parsing in :mod:`bot.kicks.chat`, wording in :mod:`bot.kicks.wording`)."""

from __future__ import annotations

import logging

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import ShopAction
from bot.kicks.chat import (
    KickChange,
    SlotError,
    is_kick_follow_up,
    kick_change,
    kick_reply,
    merged_spot,
    parse_spots,
)
from bot.kicks.predictor import KickModelMissing, get_predictor
from bot.kicks.wording import APOLOGY, OTHER_SIDE

logger = logging.getLogger(__name__)

KICK_SLOTS = ("kicker", "distance_m", "touchline_m", "pitch_spot")
"""Slots of one message's kick entities; cleared after each answer (what carries over is
in :data:`CONTEXT_SLOT`)."""
CONTEXT_SLOT = "last_kick"
"""Slot with the last kick answered (``{"kicker", "distance_m", "touchline_m",
"pitch_spot"}``): a follow-up ("and from in front of the posts?", "what about from 40
metres", "for Rhys Talbot") changes only what it names."""


def message_change(tracker: Tracker) -> KickChange:
    """What the latest message says about the kick: its words
    (:func:`bot.kicks.chat.kick_change`), completed by this message's entities."""
    text = tracker.latest_message.get("text") or ""
    slots = {name: tracker.get_slot(name) for name in KICK_SLOTS}
    change = kick_change(text, slots["kicker"])
    try:
        spots = parse_spots(slots["pitch_spot"])
    except SlotError:
        spots = set()
    line = next((s for s in ("22", "halfway", "10m", "5m") if s in spots), None)
    distance = change.distance_m or (str(slots["distance_m"]) if slots["distance_m"] else line)
    touch = change.touchline_m or (str(slots["touchline_m"]) if slots["touchline_m"] else None)
    return KickChange(distance, touch, touch is None and (change.in_front or "in_front" in spots),
                      change.kicker, change.other_side, change.any_kicker)


WARM_UP_DISTANCE_M = "40"
"""The spot of :func:`warm_up`'s question (any kicker, 40 m out in front of the posts)."""


def warm_up() -> None:
    """Load the kick model and answer one question with it now (about 0.3 s on 2 cores),
    so the first customer's kick question does not wait for it: on the phone that first
    question took 842 ms to the first reply frame against about 500 for the others.  With
    no model saved the action apologises as before, and a model trained later loads on
    first use; any other failure is logged, and the model loads on first use.

    Called by the action server's entry point (:mod:`actions.__main__`) before it serves.
    """
    try:
        kick_reply(None, WARM_UP_DISTANCE_M, None, None, get_predictor)
    except KickModelMissing as exc:
        logger.warning("kick questions get an apology until a model is trained: %s", exc)
    except Exception:
        logger.exception("kick model warm-up failed; it will load on first use")


class ActionKickPrediction(ShopAction):
    """Reply with the kicker's success probability and the all-kicker average, or ask for
    the position; a follow-up changes only what it names of the last kick. Runs in a
    worker thread under the actions' time budget (the first
    question loads the model there); with no trained model it apologises at once."""

    def name(self) -> str:
        """Action name used in the domain."""
        return "action_kick_prediction"

    topic = "kicks"

    def handle(
        self, session: Session, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        """Utter one message; returns events clearing the kick slots and keeping the
        kick answered as the context (also after an error)."""
        change = message_change(tracker)
        last = tracker.get_slot(CONTEXT_SLOT)
        follows = bool(last) and is_kick_follow_up(tracker.latest_message.get("text") or "",
                                                   change)
        spot = merged_spot(last if follows else None, change)
        try:
            text = kick_reply(spot["kicker"], spot["distance_m"], spot["touchline_m"],
                              spot["pitch_spot"], get_predictor)
            if follows and change.other_side:
                text = f"{OTHER_SIDE} {text}"
        except Exception:  # a kick-specific apology, and the slots are still cleared
            logger.exception("kick prediction failed")
            text = APOLOGY
        dispatcher.utter_message(text=text)
        return [*(SlotSet(name, None) for name in KICK_SLOTS), SlotSet(CONTEXT_SLOT, spot),
                SlotSet("topic", self.topic)]
