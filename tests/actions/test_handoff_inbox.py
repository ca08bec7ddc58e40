"""The handoff actions with the agent inbox: who is online, where to reply, the rating."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from actions.handoff import ActionHandoff, ActionTakeoverCheck
from bot.store import agents, inbox
from bot.store.db import session_scope
from bot.store.models import Ticket
from bot.support.wording import (
    RATING_SKIPPED,
    RATING_THANKS,
    contact_email_noted,
    handoff_offline_reply,
)
from testing.fake_twilio import ACCOUNT_SID, FakeTwilio
from tests.actions.conftest import make_tracker, run_action, slot, texts


def agent(online: bool) -> int:
    with session_scope() as s:
        created = agents.create_agent(s, "Sam", "sam@shop.example", "long enough pw")
        if online:
            agents.heartbeat(s, created.id)
        return created.id


def test_with_an_agent_online_the_handoff_promises_a_reply_here(shop):
    agent(online=True)
    msgs, _ = run_action(ActionHandoff(), make_tracker("web-20", "a person please"))
    assert "A person will reply right here" in texts(msgs)


def test_with_nobody_online_the_handoff_says_when_and_asks_for_an_address(shop, env):
    env.set("TOUCHLINE_OPENING_HOURS", "Mon-Fri 09:00-17:00")
    env.set("TOUCHLINE_TIMEZONE", "Europe/London")
    agent(online=False)
    msgs, events = run_action(ActionHandoff(), make_tracker("web-21", "a person please"))
    ticket_id = slot(events, "ticket_id")
    assert "leave your e-mail address" in texts(msgs) and f"#{ticket_id}" in texts(msgs)
    msgs, events = run_action(ActionTakeoverCheck(),
                              make_tracker("web-21", "it's ann.lee+shop@example.co.uk"))
    assert texts(msgs) == contact_email_noted("ann.lee+shop@example.co.uk")
    assert slot(events, "human_takeover") is True
    with session_scope() as s:
        assert s.get(Ticket, ticket_id).contact_email == "ann.lee+shop@example.co.uk"
    msgs, _ = run_action(ActionTakeoverCheck(), make_tracker("web-21", "also b@example.com"))
    assert msgs == []  # noted once; the bot is quiet again


def test_offline_reply_names_the_next_opening():
    monday = datetime(2030, 1, 7, 9, 0, tzinfo=timezone.utc)
    text = handoff_offline_reply(4, True, monday)
    assert "next available Monday at 09:00 (UTC)" in text
    assert "as soon as they're back" in handoff_offline_reply(4, False, None)


@pytest.mark.parametrize("answer,stored", [
    ("4", (4, None)), ("5 stars - so quick", (5, "so quick")),
    ("where is my order?", (None, None))])
def test_after_an_inbox_close_the_next_message_is_the_rating(shop, answer, stored):
    sam = agent(online=True)
    msgs, events = run_action(ActionHandoff(), make_tracker("web-22", "a person please"))
    ticket_id = slot(events, "ticket_id")
    with session_scope() as s:
        assert inbox.claim(s, ticket_id, sam)
        assert inbox.close(s, ticket_id, sam, "sorted") is not None
    msgs, events = run_action(ActionTakeoverCheck(), make_tracker("web-22", answer))
    assert texts(msgs) == (RATING_THANKS if stored[0] else RATING_SKIPPED)
    assert slot(events, "human_takeover") is False
    with session_scope() as s:
        ticket = s.get(Ticket, ticket_id)
        assert (ticket.rating, ticket.rating_comment) == stored


def test_a_new_request_after_a_hand_back_silences_the_bot_again(shop):
    sam = agent(online=True)
    _, events = run_action(ActionHandoff(), make_tracker("web-23", "a person please"))
    ticket_id = slot(events, "ticket_id")
    with session_scope() as s:
        inbox.claim(s, ticket_id, sam)
        inbox.hand_back(s, ticket_id, sam)
        assert s.get(Ticket, ticket_id).takeover is False
    msgs, events = run_action(ActionHandoff(), make_tracker("web-23", "a person again"))
    assert slot(events, "ticket_id") == ticket_id and f"#{ticket_id}" in texts(msgs)
    with session_scope() as s:
        assert s.get(Ticket, ticket_id).takeover is True


def test_a_caller_who_asks_for_a_person_hears_they_will_be_called_back(shop):
    agent(online=True)
    msgs, events = run_action(ActionHandoff(), make_tracker("voice:CA0123", "a person please"))
    assert "call you back on this number" in texts(msgs)
    assert "reply right here" not in texts(msgs) and slot(events, "human_takeover") is True


def test_with_an_agent_number_a_caller_is_put_through_else_called_back(shop, env):
    twilio = FakeTwilio("twilio-token").start()
    try:
        env.set("TOUCHLINE_AGENT_PHONE", "+441632960961")
        env.set("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
        env.set("TWILIO_AUTH_TOKEN", "twilio-token")
        env.set("TWILIO_API_BASE_URL", twilio.base_url)
        msgs, _ = run_action(ActionHandoff(), make_tracker("voice:CAnone", "a person please"))
        assert "call you back" in texts(msgs) and twilio.updates == []  # nobody online
        agent(online=True)
        msgs, events = run_action(ActionHandoff(), make_tracker("voice:CAput", "a person"))
        assert "putting you through to a person" in texts(msgs)
        assert slot(events, "human_takeover") is True
        [update] = twilio.updates
        assert (update.call_sid, update.authorised) == ("CAput", True)
        twilio.ended.add("CAgone")  # Twilio refuses: the caller is called back instead
        msgs, _ = run_action(ActionHandoff(), make_tracker("voice:CAgone", "a person"))
        assert "call you back" in texts(msgs) and len(twilio.updates) == 2
    finally:
        twilio.close()
