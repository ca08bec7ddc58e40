"""The reminder actions on the seeded database: the triggered reminder's total (bad
totals say nothing), the staff's opening sentence, and "stop reminders" per customer."""

from __future__ import annotations

import pytest
from rasa_sdk import Tracker

from actions.reminders import ActionCartReminder, ActionStopReminders
from bot.staff.reminders import save_settings
from bot.staff.wording import DEFAULT_OPENING
from bot.store import customers
from bot.store.db import session_scope
from bot.store.proactive import opted_out
from tests.actions.conftest import make_tracker, run_action


def triggered(total: object) -> Tracker:
    """The tracker after the scheduler's ``trigger_intent`` with entity ``cart_total``."""
    entities = [] if total is None else [{"entity": "cart_total", "value": total}]
    latest = {"text": "/EXTERNAL_cart_reminder", "entities": entities,
              "intent": {"name": "EXTERNAL_cart_reminder", "confidence": 1.0}}
    events = [{"event": "user", "text": latest["text"], "parse_data": latest,
               "metadata": {"is_external": True}}]
    return Tracker("alice", {}, latest, events, False, None, {}, "action_listen")


def test_the_reminder_states_the_total_with_the_staff_opening(shop):
    messages, events = run_action(ActionCartReminder(), triggered("1234.5"))
    assert messages[0]["response"] == "utter_cart_reminder" and events == []
    assert (messages[0]["opening"], messages[0]["cart_total"]) == (DEFAULT_OPENING, "$1,234.50")
    save_settings({"text": "Your boots are waiting."}, shop)
    messages, _ = run_action(ActionCartReminder(), triggered("0"))
    assert (messages[0]["opening"], messages[0]["cart_total"]) == (
        "Your boots are waiting.", "$0.00")


@pytest.mark.parametrize("total", [None, "", "abc", "-3", "NaN", "Infinity", [1]])
def test_a_reminder_without_a_valid_total_says_nothing(shop, total):
    assert run_action(ActionCartReminder(), triggered(total)) == ([], [])


def test_stop_reminders_is_stored_once_per_customer_and_needs_a_sign_in(shop):
    action = ActionStopReminders()
    first, _ = run_action(action, make_tracker(text="stop reminders", customer="bob"))
    again, _ = run_action(action, make_tracker(text="stop reminders", customer="bob"))
    guest, _ = run_action(action, make_tracker(text="stop reminders"))
    assert [m["response"] for m in first + again + guest] == [
        "utter_reminders_stopped", "utter_reminders_already_stopped", "utter_reminders_sign_in"]
    with session_scope(shop) as session:
        assert opted_out(session, customers.by_sender(session, "bob").id)
        assert not opted_out(session, customers.by_sender(session, "alice").id)
