"""Replays R1-R6 and R11-R13 of ../shared/replay/bad-inputs.md against the running stack."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import httpx
import pytest
from sqlalchemy import select

from bot.store.db import session_scope
from bot.store.models import Ticket
from testing.stack import texts

pytestmark = pytest.mark.slow
REPHRASE = "say it another way"


def user_events(stack, sender):
    return [e for e in stack.tracker(sender)["events"] if e["event"] == "user"]


def no_traceback(stack):
    for name in ("rasa", "actions"):
        assert "Traceback" not in stack.log(name).read_text(), name


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_r1_empty_messages(stack, text):
    assert REPHRASE in texts(stack.say(f"r1-{len(text)}", text))
    parsed = stack.parse(text)
    assert parsed["intent"] is None or parsed["intent"]["name"] in (None, "nlu_fallback")


@pytest.mark.parametrize("text", ["👍", "🙏🇬🇧🔥", "❤️❤️❤️", "thanks 🙏"])
def test_r2_emoji(stack, text):
    assert texts(stack.say("r2", text))
    assert stack.parse(text)["intent"]["name"]


@pytest.mark.parametrize("text, intent", [("👍", "affirm"), ("👎", "deny"), ("yes 👍", "affirm")])
def test_r2_emoji_are_read_by_their_meaning(stack, text, intent):
    # The encoder spells emoji out ("thumbs up sign"); as [UNK] they were all alike.
    assert stack.parse(text)["intent"]["name"] == intent


@pytest.mark.parametrize("text", ["x" * 2000, "你好"])
def test_unreadable_messages_are_not_taken_for_yes_or_no(stack, text):
    assert stack.parse(text)["intent"]["name"] not in ("affirm", "deny")


@pytest.mark.parametrize(
    "text",
    [
        "क्या आपके पास लाल जूते हैं",
        "هل لديكم أحذية حمراء؟",
        "你们有红色的鞋子吗？",
        "У вас есть красные туфли?",
    ],
)
def test_r3_non_latin(stack, text):
    assert texts(stack.say("r3", text))
    parsed = stack.parse(text)
    for entity in parsed["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["value"] or entity.get("processors")


@pytest.mark.parametrize("size", [4000, 20000])
def test_r4_very_long_messages(stack, size):
    text = ("my order has not arrived and I am waiting " * 600)[:size]
    started = time.monotonic()
    assert texts(stack.say("r4", text))
    assert time.monotonic() - started < 30  # bounded: the channel cuts to 2,000 chars
    assert "Touchline" in texts(stack.say("r4", "hello"))  # server still up


@pytest.mark.parametrize("text", ["/start", "/restart", "/ get started", "/human_handoff"])
def test_r5_slash_commands_are_not_trusted(stack, text):
    sender = f"r5-{abs(hash(text))}"
    stack.say(sender, "hello")
    assert REPHRASE in texts(stack.say(sender, text))
    events = stack.tracker(sender)["events"]
    assert not any(e["event"] == "restart" for e in events)
    assert user_events(stack, sender)[0]["text"] == "hello"  # conversation not restarted
    with session_scope(stack.env["DATABASE_URL"]) as s:
        assert s.scalars(select(Ticket).where(Ticket.sender_id == sender)).first() is None


@pytest.mark.parametrize(
    "text", ["/no_such_intent", '/greet{"name": "x"', '/inform{"order_id":"1 OR 1=1"}']
)
def test_r6_forged_intents_and_entities(stack, text):
    sender = f"r6-{abs(hash(text))}"
    assert REPHRASE in texts(stack.say(sender, text))
    slots = stack.tracker(sender)["slots"]
    assert slots["order_id"] is None and slots["customer_id"] is None


def test_r6_button_payloads_are_bare_intents_only(stack):
    assert REPHRASE in texts(stack.say("r6-btn", '/affirm{"order_id": "TL-10001"}'))
    assert stack.tracker("r6-btn")["slots"]["order_id"] is None
    assert "anything else" in texts(stack.say("r6-btn", "/affirm"))


def test_r11_burst_from_one_sender_is_processed_in_order(stack):
    async def burst():
        async with httpx.AsyncClient(timeout=60) as client:

            async def send(i):
                await asyncio.sleep(i * 0.05)  # all five leave within a quarter second
                r = await client.post(
                    f"{stack.url}/webhooks/rest/webhook",
                    json={"sender": "r11", "message": f"hello number {i}"},
                )
                return r.status_code, r.json()

            return await asyncio.gather(*(send(i) for i in range(5)))

    results = asyncio.run(burst())
    assert all(code == 200 and body for code, body in results)
    sent = [e["text"] for e in user_events(stack, "r11")]
    assert sent == [f"hello number {i}" for i in range(5)]
    assert "LockError" not in stack.log("rasa").read_text()


def test_r12_slow_shop_database_gets_a_still_checking_reply(stack):
    path = stack.env["DATABASE_URL"].removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, timeout=1)
    blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the shop database
    try:
        reply = texts(stack.say("r12", "please get me a human agent"))
        assert "still checking" in reply and "ticket #" not in reply
    finally:
        blocker.rollback()
        blocker.close()
    assert "TL-10001" in texts(stack.say("r12-next", "track TL-10001 please", customer="alice"))


def test_r13_action_raising_gets_an_apology(stack):
    path = stack.env["DATABASE_URL"].removeprefix("sqlite:///")
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE orders RENAME TO orders_broken")
    con.commit()
    try:
        reply = texts(stack.say("r13a", "where is order TL-10001", customer="alice"))
        assert "something went wrong" in reply
    finally:
        con.execute("ALTER TABLE orders_broken RENAME TO orders")
        con.commit()
        con.close()
    assert stack.tracker("r13a")["slots"]["customer_id"] is None
    assert "DHL" in texts(stack.say("r13a", "where is order TL-10001", customer="alice"))


def test_r13_action_server_down_then_back(stack):
    stack.stop("actions")
    try:
        reply = texts(stack.say("alice", "my cart total is wrong", customer="alice"))
        assert "something went wrong on my side" in reply
        assert stack.tracker("alice")["slots"]["customer_id"] is None
    finally:
        stack.start_actions()
    assert "Here's your cart" in texts(stack.say("alice", "my cart total is wrong",
                                                 customer="alice"))


def test_rest_rejects_malformed_bodies_and_other_channels_senders(stack):
    url = f"{stack.url}/webhooks/rest/webhook"
    headers = {"Content-Type": "application/json"}
    for body, status in [
        ("not json", 400),
        ("[1, 2]", 400),
        ('{"message": "hi"}', 400),
        ('{"sender": 5, "message": "hi"}', 400),
        ('{"sender": "a\\ud800", "message": "hi"}', 400),  # a lone surrogate
        ('{"sender": "telegram:777", "message": "what is wrong with my cart"}', 403),
        ('{"sender": "Voice:CA1", "message": "hi"}', 403),
    ]:
        r = httpx.post(url, content=body, headers=headers, timeout=30)
        assert r.status_code == status, (body, r.text)
        assert r.json()["error"]
    assert not [e for e in stack.tracker("telegram:777")["events"] if e["event"] == "user"]


def test_lone_surrogates_in_a_message_get_a_normal_reply(stack):
    # only this test's part of the shared stack's log (others stop the action server)
    start = len(stack.log("rasa").read_text())
    body = '{"sender": "surrogate", "message": "hi \\ud800 there"}'  # valid JSON
    r = httpx.post(
        f"{stack.url}/webhooks/rest/webhook",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    reply = texts(r.json())
    assert reply and "went wrong" not in reply
    assert "Traceback" not in stack.log("rasa").read_text()[start:]
