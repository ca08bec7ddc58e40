"""Cart reminders in the conversation: the reminder itself (the intent the scheduler
triggers, :data:`bot.staff.reminders.REMINDER_INTENT`) and "stop reminders"."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import ShopAction, customer_id_for
from bot.staff.reminders import SETTINGS_NAME, ReminderSettings
from bot.staff.wording import reminder_opening
from bot.store.proactive import opt_out, setting
from bot.support.wording import money

logger = logging.getLogger(__name__)


def triggered_total(tracker: Tracker) -> Decimal | None:
    """The ``cart_total`` entity of the latest (triggered) message: the total the scheduler
    read from the shop database when it sent the reminder; ``None`` when absent or not a
    non-negative amount."""
    value = next(tracker.get_latest_entity_values("cart_total"), None)
    try:
        total = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return total if total.is_finite() and total >= 0 else None


class ActionCartReminder(ShopAction):
    """Answer the scheduler's triggered reminder: the staff's opening sentence, the cart's
    total and buttons to check out or ask for help (``utter_cart_reminder``)."""

    def name(self) -> str:
        """Rasa action name."""
        return "action_cart_reminder"

    def handle(
        self, session: Session, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        """See the class docstring; without a total nothing is said (and it is logged)."""
        total = triggered_total(tracker)
        if total is None:
            logger.warning("cart reminder for %s without a valid total", tracker.sender_id)
            return []
        settings = ReminderSettings.parse(setting(session, SETTINGS_NAME))
        dispatcher.utter_message(response="utter_cart_reminder",
                                 opening=reminder_opening(settings.text),
                                 cart_total=money(total))
        return []


class ActionStopReminders(ShopAction):
    """"Stop reminders": record the verified customer's opt-out (per customer, so every
    channel honours it); an anonymous visitor is told it needs a sign-in."""

    def name(self) -> str:
        """Rasa action name."""
        return "action_stop_reminders"

    def handle(
        self, session: Session, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        """See the class docstring."""
        cid = customer_id_for(session, tracker)
        if cid is None:
            dispatcher.utter_message(response="utter_reminders_sign_in")
        elif opt_out(session, cid):
            dispatcher.utter_message(response="utter_reminders_stopped")
        else:
            dispatcher.utter_message(response="utter_reminders_already_stopped")
        return []
