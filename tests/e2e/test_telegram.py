"""Telegram end to end: updates posted to the webhook of a real Rasa server (with the action
server and a seeded shop database), replies checked in what the fake Bot API recorded.

Replays R8 and R9 of ../shared/replay/bad-inputs.md, forged and duplicate updates, the
handoff takeover on Telegram, messages pushed through Rasa's HTTP API, and voice notes
(spoken by Piper, transcribed by Whisper inside the Rasa server, answered with sendVoice).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy import update as sa_update

from bot.store import customers
from bot.store.db import session_scope
from bot.store.identity import create_telegram_link
from bot.store.models import TelegramAccount, TelegramLink, TelegramSeenUpdate, Ticket, utcnow
from bot.store.tickets import close_ticket
from connectors.telegram import SECRET_HEADER
from connectors.telegram_store import first_delivery, pending
from connectors.wording import (
    BAD_LINK,
    GROUP_LINK,
    MEDIA_REPLY,
    NOT_HEARD,
    TOO_LONG_REPLY,
    UNLINKED,
    UNREADABLE_REPLY,
)
from testing import telegram_updates as u
from testing.fake_telegram import BOT_ID, TOKEN, USERNAME, Call, FakeBotApi
from testing.stack import Stack, stack_env
from tests.connectors.voice_notes import heard, silent_ogg, spoken_ogg, words

pytestmark = pytest.mark.slow
SECRET = "e2e-Secret_token-42"
WEBHOOK_URL = "https://shop.example/webhooks/telegram/webhook"
GREETING = "I'm Touchline"


@pytest.fixture(scope="module")
def fake():
    server = FakeBotApi().start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def tg(model, fake, tmp_path_factory):
    """Rasa + action server with the Telegram channel pointed at the fake Bot API."""
    work = tmp_path_factory.mktemp("telegram")
    env = stack_env(
        work,
        TELEGRAM_TOKEN=TOKEN,
        TELEGRAM_SECRET_TOKEN=SECRET,
        TELEGRAM_BOT_NAME=USERNAME,
        TELEGRAM_API_BASE_URL=fake.base_url,
        TELEGRAM_WEBHOOK_URL=WEBHOOK_URL,
    )
    running = Stack(work, model, env).start()
    yield running
    running.close()


BOB_CART = "Eyeshadow Palette with Mirror"
"""In bob's cart only (bot/store/seed.py)."""


def post(tg: Stack, body: Any, secret: str | None = SECRET) -> httpx.Response:  # noqa: ANN401
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return httpx.post(f"{tg.url}/webhooks/telegram/webhook", json=body, headers=headers,
                      timeout=10)


def send(tg: Stack, body: dict[str, Any]) -> dict[str, Any]:
    r = post(tg, body)
    assert r.status_code == 200, r.text
    return r.json()


def replies(fake: FakeBotApi, chat: int, count: int, timeout: float = 60) -> list[str]:
    """The first ``count`` texts sent to ``chat`` (waits for them)."""
    return fake.wait_for(lambda: len(fake.texts(chat)) >= count and fake.texts(chat), timeout)


def user_events(tg: Stack, chat: int) -> list[dict[str, Any]]:
    return [e for e in tg.tracker(f"telegram:{chat}")["events"] if e["event"] == "user"]


def settle(tg: Stack, chat: int, user_turns: int) -> None:
    """Wait until Rasa has ``user_turns`` user messages for ``chat`` plus a moment to send."""
    deadline = time.monotonic() + 60
    while len(user_events(tg, chat)) < user_turns and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)


def keyboard(call: Call) -> list[dict[str, str]]:
    return [row[0] for row in call.markup()["inline_keyboard"]]


def push(tg: Stack, chat: int, event: dict[str, Any]) -> None:
    """A bot message sent through Rasa's HTTP API to the conversation's Telegram chat."""
    r = httpx.post(f"{tg.url}/conversations/telegram:{chat}/tracker/events",
                   params={"token": tg.token, "execute_side_effects": "true",
                           "output_channel": "telegram"}, json=event, timeout=30)
    assert r.status_code == 200, r.text


def test_webhook_is_registered_at_start_with_the_secret(tg, fake):
    [hook] = fake.wait_for(lambda: fake.sent("setWebhook"), timeout=30)
    assert hook.params["url"] == WEBHOOK_URL and hook.params["secret_token"] == SECRET
    # The fake records the call before the channel reads its answer and logs it.
    fake.wait_for(lambda: "Telegram webhook registered" in tg.log("rasa").read_text(), 30)
    assert TOKEN.split(":")[1] not in tg.log("rasa").read_text()


def test_start_greets_and_order_status_is_a_guest_look_up(tg, fake):
    assert send(tg, u.message(1001, "/start")) == {"status": "accepted"}
    assert GREETING in replies(fake, 1001, 1)[0]
    send(tg, u.message(1001, "where is my order TL-10001"))
    # an unlinked chat is anonymous: the order's e-mail address is asked for too
    assert "e-mail address" in replies(fake, 1001, 2)[1]
    [first, second] = user_events(tg, 1001)
    assert first["parse_data"]["intent"]["name"] == "greet" and first["input_channel"] == "telegram"
    assert first["metadata"]["original_text"] == "/start"
    assert second["metadata"]["telegram"]["chat_id"] == 1001


def test_forged_updates_are_rejected_and_change_nothing(tg, fake):
    body = u.message(1002, "I want a refund for everything")
    assert post(tg, body, secret=None).status_code == 403
    assert post(tg, body, secret="wrong").status_code == 403
    assert post(tg, body, secret=SECRET + "x").status_code == 403
    time.sleep(1.5)
    assert fake.sent(chat_id=1002) == [] and user_events(tg, 1002) == []
    with session_scope(tg.env["DATABASE_URL"]) as s:
        assert s.get(TelegramSeenUpdate, (BOT_ID, body["update_id"])) is None
    assert send(tg, body)["status"] == "accepted"  # the genuine delivery is still new
    replies(fake, 1002, 1)


def test_duplicate_update_id_is_processed_once(tg, fake):
    body = u.message(1003, "where is my order TL-10001")
    assert send(tg, body) == {"status": "accepted"}
    assert send(tg, body) == {"status": "duplicate"}
    replies(fake, 1003, 1)
    settle(tg, 1003, 1)
    assert send(tg, body) == {"status": "duplicate"}
    time.sleep(1)
    assert len(fake.texts(1003)) == 1 and len(user_events(tg, 1003)) == 1


def test_updates_a_dead_server_left_pending_are_answered_once(tg, fake):
    # A server answers 200 before the turn, so Telegram never sends an update again: one
    # that died first left it pending, and a running server's sweep takes it on.
    chat, url = 1030, tg.env["DATABASE_URL"]
    stored = u.message(chat, "where is my order TL-10001")
    assert send(tg, stored) == {"status": "accepted"}
    replies(fake, chat, 1)
    settle(tg, chat, 1)
    first = fake.texts(chat)
    # This server died after storing the turn, before marking the update answered ...
    with session_scope(url) as s:
        s.execute(sa_update(TelegramSeenUpdate).where(
            TelegramSeenUpdate.update_id == stored["update_id"]
        ).values(body=json.dumps(stored), claimed_at=utcnow() - timedelta(hours=2)))
    # ... and that one took this update on but died before its turn.
    lost = u.message(chat, "thanks")
    assert first_delivery(BOT_ID, lost["update_id"], url, json.dumps(lost))
    with session_scope(url) as s:
        s.execute(sa_update(TelegramSeenUpdate).where(
            TelegramSeenUpdate.update_id == lost["update_id"]
        ).values(claimed_at=utcnow() - timedelta(hours=1)))
    fake.wait_for(lambda: not any(pending(BOT_ID, b["update_id"], url) for b in (stored, lost)),
                  timeout=60)
    settle(tg, chat, 2)
    assert [e["text"] for e in user_events(tg, chat)] == [
        "where is my order TL-10001", "thanks"]  # the stored turn was not run again
    texts = fake.texts(chat)
    assert texts[:2 * len(first)] == first + first  # its stored answer sent again
    assert len(texts) > 2 * len(first)  # and the lost update answered
    assert "left pending; answering it" in tg.log("rasa").read_text()


def test_r8_odd_updates_all_get_200_and_the_chat_goes_on(tg, fake):
    chat, group = 1004, -1001004
    send(tg, u.message(chat, "hello"))
    replies(fake, chat, 1)
    results = [send(tg, body) for body in (
        u.message(chat, "hello, edited", key="edited_message"),
        u.members(group, joined=True),
        u.members(group, joined=False),
        u.message(group, "where is my order TL-10001"),  # not addressed to the bot
        u.message(group, f"/start@{USERNAME}"),
        u.sticker(chat), u.photo(chat), u.video_note(chat),
    )]
    assert [r["status"] for r in results] == ["ignored"] * 4 + ["accepted"] * 4
    assert GREETING in replies(fake, group, 1)[0]
    assert replies(fake, chat, 4)[1:] == [MEDIA_REPLY] * 3
    send(tg, u.message(group, f"@{USERNAME} where is my order TL-10001"))
    assert "e-mail address" in replies(fake, group, 2)[1]
    send(tg, u.message(chat, "where is my order TL-10001"))
    assert "e-mail address" in replies(fake, chat, 5)[4]
    assert [e["text"] for e in user_events(tg, chat)] == ["hello", "where is my order TL-10001"]
    assert len(fake.texts(group)) == 2


def test_buttons_tap_and_handoff_silence_the_bot_on_telegram(tg, fake):
    chat = 1005
    send(tg, u.message(chat, "/restart"))  # not an allowed command: "say it another way"
    replies(fake, chat, 1)
    send(tg, u.message(chat, "/human_handoff"))  # a second miss offers a person
    replies(fake, chat, 2)
    [offer] = [c for c in fake.sent("sendMessage", chat) if c.params.get("reply_markup")]
    buttons = keyboard(offer)
    assert [b["text"] for b in buttons] == ["Yes, please", "No, thanks"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
    tap = u.tap(chat, buttons[0]["callback_data"])
    send(tg, tap)
    reply = replies(fake, chat, 3)[2]
    assert "ticket #" in reply
    [answer] = [c for c in fake.sent("answerCallbackQuery")
                if c.params["callback_query_id"] == tap["callback_query"]["id"]]
    assert user_events(tg, chat)[-1]["parse_data"]["intent"]["name"] == "affirm"
    with session_scope(tg.env["DATABASE_URL"]) as s:
        ticket = s.scalars(select(Ticket).where(Ticket.sender_id == f"telegram:{chat}")).one()
        assert ticket.takeover and ticket.status == "open"
        ticket_id = ticket.id
    send(tg, u.message(chat, "hello? anyone?"))
    send(tg, u.sticker(chat))
    fake.add_file("vn-1005", spoken_ogg("Is anyone there?"))
    send(tg, u.voice(chat, "vn-1005"))
    settle(tg, chat, 5)  # the voice note's transcript reaches Rasa, for the agent to read
    assert len(fake.texts(chat)) == 3  # silent while a person holds the conversation
    assert fake.sent("sendVoice", chat) == []
    assert "anyone" in words(user_events(tg, chat)[-1]["text"])
    with session_scope(tg.env["DATABASE_URL"]) as s:
        close_ticket(s, ticket_id)
    send(tg, u.message(chat, "hello"))
    assert "I'm back" in replies(fake, chat, 4)[3]


def test_r9_long_and_non_latin_payloads_get_short_ids_and_taps_reach_the_intent(tg, fake):
    chat_a, chat_b = 1006, 1007
    long_payload = "I would like to talk to a real person from your support team, please 🙋"
    cyrillic = "Спасибо большое 🙏 thanks"
    assert len(long_payload.encode()) > 64
    buttons = [{"title": "Talk to a person 🙋", "payload": long_payload},
               {"title": "Спасибо", "payload": cyrillic}]
    for chat in (chat_a, chat_b):
        push(tg, chat, {"event": "bot", "text": "Anything else?", "data": {"buttons": buttons}})
    sent = {chat: keyboard(fake.wait_for(lambda c=chat: fake.sent("sendMessage", c))[0])
            for chat in (chat_a, chat_b)}
    for chat in sent:
        assert [b["text"] for b in sent[chat]] == ["Talk to a person 🙋", "Спасибо"]
        assert all(len(b["callback_data"].encode()) <= 64 for b in sent[chat])
    send(tg, u.tap(chat_a, sent[chat_a][1]["callback_data"]))
    assert "welcome" in replies(fake, chat_a, 2)[1]
    send(tg, u.tap(chat_b, sent[chat_b][0]["callback_data"]))
    assert "ticket #" in replies(fake, chat_b, 2)[1]
    thanked, handed_off = user_events(tg, chat_a)[-1], user_events(tg, chat_b)[-1]
    assert (thanked["text"], thanked["parse_data"]["intent"]["name"]) == (cyrillic, "thank")
    assert handed_off["text"] == long_payload
    assert handed_off["parse_data"]["intent"]["name"] == "human_handoff"


def test_long_reply_is_split_within_the_message_limit(tg, fake):
    chat = 1008
    text = "\n".join(f"{i}. " + " ".join(["Your parcel is on its way."] * 8) for i in range(60))
    assert len(text) > 2 * 4096
    push(tg, chat, {"event": "bot", "text": text})
    parts = fake.wait_for(lambda: fake.texts(chat))
    assert len(parts) >= 3 and all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == text


def test_product_search_sends_the_list_once_and_no_raw_json(tg, fake):
    chat = 1009
    send(tg, u.message(chat, "a red dress under $100"))
    [reply] = replies(fake, chat, 1)
    assert "what I found" in reply and "$" in reply
    settle(tg, chat, 1)
    assert fake.texts(chat) == [reply]  # the cards repeat nothing the text already listed
    assert not fake.sent("sendPhoto", chat)  # catalogue products have no image URL


def test_voice_note_about_a_payment_gets_the_payment_flow_in_text_and_voice(tg, fake):
    chat = 1010
    fake.add_file("vn-pay", spoken_ogg("I have a problem with my payment"))
    assert send(tg, u.voice(chat, "vn-pay", duration=2)) == {"status": "accepted"}
    [voice] = fake.wait_for(lambda: fake.sent("sendVoice", chat))
    [question] = fake.texts(chat)
    assert "sign in" in question  # payment_issue needs a signed-in (linked) customer
    [event] = user_events(tg, chat)
    assert event["parse_data"]["intent"]["name"] == "payment_issue"
    assert event["input_channel"] == "telegram"
    assert event["metadata"]["voice"]["transcript"] == event["text"]
    assert {"problem", "payment"} <= words(event["text"])
    assert event["metadata"]["telegram"]["chat_id"] == chat
    assert tg.tracker(f"telegram:{chat}")["slots"]["pending_request"] is None  # no form
    said = words(heard(voice.files["voice"]))
    assert len(said & words(question)) >= 5, said  # the voice reply reads the text reply
    assert fake.downloads.count("voice/vn-pay.oga") == 1


def test_voice_notes_that_cannot_be_answered_get_a_short_text(tg, fake):
    chat, group = 1011, -1001011
    fake.add_file("vn-silent", silent_ogg(2.0))
    fake.add_file("vn-garbage", b"this is not audio at all " * 40)
    fake.add_file("vn-long", spoken_ogg("I have a problem with my payment"))
    assert send(tg, u.voice(group, "vn-long"))["status"] == "ignored"  # not a reply to the bot
    for body in (u.voice(chat, "vn-silent"), u.voice(chat, "vn-garbage"),
                 u.voice(chat, "vn-long", duration=75)):
        assert send(tg, body) == {"status": "accepted"}
    assert replies(fake, chat, 3) == [NOT_HEARD, UNREADABLE_REPLY, TOO_LONG_REPLY]
    assert [c.params["file_id"] for c in fake.sent("getFile")
            if c.params["file_id"] in ("vn-silent", "vn-garbage", "vn-long")] == [
        "vn-silent", "vn-garbage"]
    settle(tg, chat, 0)
    assert user_events(tg, chat) == [] and fake.sent("sendVoice", chat) == []
    assert fake.sent(chat_id=group) == []


def test_no_tracebacks_in_the_server_logs(tg):
    for name in ("rasa", "actions"):
        assert "Traceback" not in tg.log(name).read_text(), name


def test_without_a_token_the_channel_loads_and_answers_503(stack):
    assert "TELEGRAM_TOKEN" not in stack.env, "unset TELEGRAM_TOKEN to run the test suite"
    r = httpx.post(f"{stack.url}/webhooks/telegram/webhook", json=u.message(1, "hi"), timeout=10)
    assert r.status_code == 503 and "TELEGRAM_TOKEN" in r.json()["error"]
    assert httpx.get(f"{stack.url}/webhooks/telegram/", timeout=10).json()["configured"] is False


def test_a_one_time_link_signs_a_private_chat_in_until_unlink(tg, fake):
    chat, other, group = 1020, 1021, -1001020
    with session_scope(tg.env["DATABASE_URL"]) as s:
        bob = customers.by_sender(s, "bob").id
        token, stale, for_group = (create_telegram_link(s, bob) for _ in range(3))
    with session_scope(tg.env["DATABASE_URL"]) as s:
        s.get(TelegramLink, stale).expires_at = datetime.utcnow() - timedelta(seconds=1)
    send(tg, u.message(chat, "my cart is broken"))  # unlinked: anonymous
    assert "sign in" in replies(fake, chat, 1)[0]
    send(tg, u.message(chat, f"/start {token}"))
    assert "linked to the shop account of Bob Chen" in replies(fake, chat, 2)[1]
    send(tg, u.message(chat, "my cart is broken"))
    fake.wait_for(lambda: any(BOB_CART in t for t in fake.texts(chat)), 60)
    send(tg, u.message(other, f"/start {token}"))  # used up: a reused link links nothing
    send(tg, u.message(other, f"/start {stale}"))  # expired
    assert replies(fake, other, 2) == [BAD_LINK, BAD_LINK]
    send(tg, u.message(group, f"/start@{USERNAME} {for_group}"))
    assert replies(fake, group, 1) == [GROUP_LINK]
    settle(tg, chat, 2)
    seen = len(fake.texts(chat))
    send(tg, u.message(chat, "/unlink"))
    assert replies(fake, chat, seen + 1)[seen] == UNLINKED
    send(tg, u.message(chat, "my cart is broken"))
    assert "sign in" in replies(fake, chat, seen + 2)[seen + 1]
    with session_scope(tg.env["DATABASE_URL"]) as s:
        assert s.get(TelegramAccount, chat) is None and s.get(TelegramAccount, other) is None
