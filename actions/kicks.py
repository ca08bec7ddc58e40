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
from bot.kicks.chat import kick_reply
from bot.kicks.predictor import get_predictor
from bot.kicks.wording import APOLOGY

logger = logging.getLogger(__name__)

KICK_SLOTS = ("kicker", "distance_m", "touchline_m", "pitch_spot")
"""Slots of one kick question; cleared after each answer so the next question starts fresh."""


class ActionKickPrediction(ShopAction):
    """Reply with the kicker's success probability and the all-kicker average, or ask for
    the position. Runs in a worker thread under the actions' time budget (the first
    question loads the model there); with no trained model it apologises at once."""

    def name(self) -> str:
        """Action name used in the domain."""
        return "action_kick_prediction"

    def handle(
        self, session: Session, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        """Utter one message; returns events clearing the kick slots (also after an
        error: the next question starts fresh)."""
        try:
            text = kick_reply(
                tracker.get_slot("kicker"),
                tracker.get_slot("distance_m"),
                tracker.get_slot("touchline_m"),
                tracker.get_slot("pitch_spot"),
                get_predictor,
            )
        except Exception:  # a kick-specific apology, and the slots are still cleared
            logger.exception("kick prediction failed")
            text = APOLOGY
        dispatcher.utter_message(text=text)
        return [SlotSet(name, None) for name in KICK_SLOTS]
