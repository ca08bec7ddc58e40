"""Rehearsals (``bot/dialogue/rehearsal.py``): a phone call's speculative turn may run a
read-only action ahead; the action server answers it as usual, and refuses any action that
writes, also when a follow-up passes the message on to another topic's action."""

from __future__ import annotations

from sqlalchemy import func, select

import actions.kicks  # noqa: F401  (the action server imports every action module)
from actions.handoff import ActionHandoff
from actions.orders import ActionOrderStatus
from actions.search import ActionProductSearch
from bot.dialogue.rehearsal import READ_ONLY_ACTIONS, is_rehearsal, rehearsal_metadata
from bot.store.db import session_scope
from bot.store.models import LookupFailure, Ticket
from tests.actions.conftest import make_tracker, run_action, texts


def rehearsal(tracker):
    """``tracker`` with its latest user message marked as a rehearsal's."""
    tracker.events[-1]["metadata"] = rehearsal_metadata(tracker.events[-1]["metadata"])
    return tracker


def count(model) -> int:
    with session_scope() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_the_marker_is_read_from_the_latest_user_message_only():
    marked = {"event": "user", "metadata": rehearsal_metadata({"voice": {}})}
    assert is_rehearsal([marked, {"event": "bot", "metadata": {}}])
    assert not is_rehearsal([marked, {"event": "user", "metadata": {}}])
    assert not is_rehearsal([{"event": "user", "metadata": {"touchline_rehearsal": "yes"}}])
    assert not is_rehearsal([])


def test_a_rehearsal_of_an_action_that_writes_says_and_changes_nothing(shop):
    assert "action_handoff" not in READ_ONLY_ACTIONS
    before = count(Ticket)
    messages, events = run_action(ActionHandoff(), rehearsal(
        make_tracker("voice:CAreh1", "I want to speak to a person", "human_handoff")))
    assert (messages, events, count(Ticket)) == ([], [], before)
    messages, events = run_action(ActionHandoff(), make_tracker(
        "voice:CAreh1", "I want to speak to a person", "human_handoff"))
    assert "call you back on this number" in texts(messages) and count(Ticket) == before + 1


def test_a_follow_up_passed_on_to_an_action_that_writes_is_refused(shop):
    """Product search reads only, but a message continuing the order topic goes to order
    status, whose failed guest lookups are counted: the rehearsal stops there."""
    slots = {"topic": "order", "last_order": {"number": "TL-99999", "email": "x@y.example"}}
    tracker = make_tracker("voice:CAreh2", "what about TL-99998?", "order_status", slots)
    before = count(LookupFailure)
    assert run_action(ActionProductSearch(), rehearsal(tracker)) == ([], [])
    assert count(LookupFailure) == before
    messages, _ = run_action(ActionOrderStatus(), make_tracker(
        "voice:CAreh2", "what about TL-99998?", "order_status", slots))
    assert "TL-99998" in texts(messages) and count(LookupFailure) > before


def test_a_read_only_action_rehearses_exactly_what_it_will_say(shop):
    slots = {"topic": "search", "search_query": "red lipstick", "last_products": ["3", "1"]}
    real = run_action(ActionProductSearch(),
                      make_tracker("voice:CAreh3", "tell me about the second one",
                                   "product_search", dict(slots)))
    rehearsed = run_action(ActionProductSearch(), rehearsal(
        make_tracker("voice:CAreh3", "tell me about the second one", "product_search",
                     dict(slots))))
    assert rehearsed == real and texts(real[0])
