"""The Telegram channel with a real PTB ``Bot`` talking to the fake Bot API, a real SQLite
database and the real speech engines (Whisper, Piper); Rasa is replaced by a small echo
handler (the end-to-end tests in ``tests/e2e/test_telegram.py`` use the real Rasa server)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage
from sqlalchemy import func, select, update
from telegram import Update

from bot.speech.asr import load_recognizer
from bot.speech.audio import decode
from bot.speech.engines import SpeechEngines
from bot.speech.tts import load_synthesizer
from bot.store.db import reset_engines, session_scope
from bot.store.models import TelegramButton, TelegramSeenUpdate
from bot.store.schema import upgrade
from bot.store.tickets import open_ticket
from bot.support.wording import APOLOGY
from connectors.telegram import ALLOWED_UPDATES, TelegramInput, TelegramSettings
from connectors.telegram_inbound import Inbound, read_update
from connectors.telegram_outbound import MAX_TEXT, send_messages, utf16_len
from connectors.telegram_store import (
    answered,
    claim_stale,
    first_delivery,
    pending,
    resolve_button,
    store_buttons,
)
from connectors.telegram_voice import MAX_VOICE_BYTES
from connectors.wording import (
    DOWNLOAD_FAILED_REPLY,
    EXPIRED_BUTTON,
    MEDIA_REPLY,
    NOT_HEARD,
    TOO_LONG_REPLY,
    UNREADABLE_REPLY,
    VOICE_UNAVAILABLE_REPLY,
)
from testing import telegram_updates as u
from testing.fake_telegram import BOT_ID, TOKEN, USERNAME, FakeBotApi
from tests.connectors.voice_notes import heard, silent_ogg, spoken_ogg, words

SECRET = "unit-secret_123"
CHAT = 5151
GROUP = -100777


@pytest.fixture(scope="module")
def fake():
    server = FakeBotApi().start()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def tg_db(tmp_path, env, fake):
    """A fresh SQLite file migrated to every project table; ``$DATABASE_URL`` points at it."""
    url = f"sqlite:///{tmp_path / 'tg.db'}"
    env.set("DATABASE_URL", url)
    upgrade(url)
    fake.calls.clear()
    fake.fail.clear()
    fake.files.clear()
    fake.downloads.clear()
    return url


def channel(fake: FakeBotApi, **overrides: Any) -> TelegramInput:
    settings = {"token": TOKEN, "secret_token": SECRET, "bot_name": USERNAME,
                "base_url": fake.base_url, "base_file_url": fake.base_file_url, **overrides}
    return TelegramInput(TelegramSettings(**settings))


def ch_read(ch: TelegramInput, body: dict[str, Any]) -> Inbound:
    return read_update(Update.de_json(body, ch.bot()), BOT_ID, USERNAME)


class Echo:
    """Stands in for Rasa: records the user message and answers ``echo: <text>``."""

    def __init__(self, reply: list[dict[str, Any]] | None = None) -> None:
        self.received: list[UserMessage] = []
        self.reply = reply

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        for m in self.reply if self.reply is not None else [{"text": f"echo: {message.text}"}]:
            await message.output_channel.send_response(message.sender_id, dict(m))


# --- store -------------------------------------------------------------------------------


def test_update_ids_are_remembered_across_engines(tg_db):
    assert first_delivery(BOT_ID, 10) is True
    assert first_delivery(BOT_ID, 10) is False
    assert first_delivery(BOT_ID + 1, 10) is True  # ids are per bot
    reset_engines()  # as after a restart
    assert first_delivery(BOT_ID, 10) is False


def backdate(update_id: int, by: timedelta = timedelta(hours=1)) -> None:
    """Make the update's current attempt look ``by`` older (its server died then)."""
    with session_scope() as s:
        claimed = s.scalar(select(TelegramSeenUpdate.claimed_at).where(
            TelegramSeenUpdate.update_id == update_id))
        s.execute(update(TelegramSeenUpdate).where(TelegramSeenUpdate.update_id == update_id)
                  .values(claimed_at=claimed - by))


def test_pending_updates_are_taken_on_again_once_stale_and_forgotten_once_answered(tg_db):
    assert first_delivery(BOT_ID, 20, None, '{"update_id": 20}') is True
    assert first_delivery(BOT_ID, 21, None, '{"update_id": 21}') is True
    assert first_delivery(BOT_ID, 22) is True  # nothing to take on again
    assert [pending(BOT_ID, i) for i in (20, 21, 22)] == [True, True, False]
    assert claim_stale(BOT_ID, timedelta(minutes=1)) == []  # still being answered
    backdate(21, timedelta(minutes=5))
    backdate(20, timedelta(minutes=2))
    assert claim_stale(BOT_ID, timedelta(minutes=1)) == [(21, '{"update_id": 21}'),
                                                           (20, '{"update_id": 20}')]
    assert claim_stale(BOT_ID, timedelta(minutes=1)) == []  # the new attempt is fresh
    assert claim_stale(BOT_ID + 1, timedelta(0)) == []  # another bot's
    answered(BOT_ID, 20)
    assert not pending(BOT_ID, 20) and pending(BOT_ID, 21)
    backdate(20)
    backdate(21)
    assert [i for i, _ in claim_stale(BOT_ID, timedelta(minutes=1))] == [21]


def test_buttons_are_stored_once_and_resolved(tg_db):
    long_payload = "I'd like to talk to a person about order TL-10001, it's been weeks " * 2
    payloads = ["/affirm", long_payload, "Да 🙏", "/affirm"]
    data = store_buttons(payloads)
    assert all(len(d.encode()) <= 64 for d in data) and data[0] == data[3]
    assert store_buttons(payloads) == data
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(TelegramButton)) == 3
    assert [resolve_button(d) for d in data] == payloads
    assert resolve_button("b:unknown") is None and resolve_button("raw") is None
    assert store_buttons([]) == []


# --- sending -----------------------------------------------------------------------------


async def test_buttons_become_an_inline_keyboard_with_short_callback_data(fake):
    long_payload = "I'd like to talk to a person about my order TL-10001 please 🙏🙏" * 2
    buttons = [{"title": "Yes", "payload": "/affirm"},
               {"title": "Длинная кнопка 🚚", "payload": long_payload},
               {"title": "Docs", "url": "https://example.com/help"}]
    ch = channel(fake)
    await send_messages(ch.bot(), CHAT, [{"text": "Pick one", "buttons": buttons}])
    [call] = fake.sent("sendMessage", CHAT)
    rows = call.markup()["inline_keyboard"]
    assert [r[0]["text"] for r in rows] == ["Yes", "Длинная кнопка 🚚", "Docs"]
    assert rows[2][0]["url"] == "https://example.com/help"
    data = [rows[0][0]["callback_data"], rows[1][0]["callback_data"]]
    assert all(len(d.encode()) <= 64 for d in data)
    assert [resolve_button(d) for d in data] == ["/affirm", long_payload]
    assert "parse_mode" not in call.params  # plain text: nothing is read as markup
    await ch.stop()


async def test_long_text_is_split_with_the_keyboard_on_the_last_part(fake):
    text = "\n".join(f"line {i}:" + " lorem ipsum" * 10 for i in range(120))
    ch = channel(fake)
    await send_messages(ch.bot(), CHAT, [{"text": text, "buttons": [{"title": "OK",
                                                                      "payload": "/affirm"}]}])
    calls = fake.sent("sendMessage", CHAT)
    assert len(calls) >= 4 and all(utf16_len(c.params["text"]) <= MAX_TEXT for c in calls)
    keyboards = [bool(c.params.get("reply_markup")) for c in calls]
    assert keyboards == [False] * (len(calls) - 1) + [True]
    assert "\n".join(c.params["text"] for c in calls) == text  # cut at line breaks
    await ch.stop()


async def test_product_cards_as_photos_or_a_list_without_repeating_the_text(fake):
    cards = {"type": "product_cards", "products": [
        {"title": "Red Dress", "price": 49.5, "in_stock": True,
         "image": "https://cdn.example/red.png"},
        {"title": "Blue Shoes", "price": 1200, "in_stock": False}]}
    ch = channel(fake)
    await send_messages(ch.bot(), CHAT, [{"custom": cards}])
    [photo] = fake.sent("sendPhoto", CHAT)
    assert photo.params["photo"] == "https://cdn.example/red.png"
    assert photo.params["caption"] == "• Red Dress - $49.50, in stock"
    assert fake.texts(CHAT) == ["• Blue Shoes - $1,200.00, out of stock"]
    fake.calls.clear()
    said = {"text": "Here is what I found:\n1. Blue Shoes - $1,200.00, out of stock"}
    await send_messages(ch.bot(), CHAT, [said, {"custom": cards}])
    assert fake.texts(CHAT) == [said["text"]] and len(fake.sent("sendPhoto")) == 1
    await ch.stop()


async def test_images_attachments_and_unknown_custom_payloads(fake):
    ch = channel(fake)
    await send_messages(ch.bot(), CHAT, [{"image": "https://cdn.example/a.png"},
                                         {"attachment": "https://cdn.example/a.pdf"},
                                         {"custom": {"type": "something_else"}}])
    assert [c.method for c in fake.sent()] == ["sendPhoto", "sendMessage"]
    assert fake.texts(CHAT) == ["https://cdn.example/a.pdf"]
    await ch.stop()


async def test_a_failed_send_is_logged_and_the_rest_still_goes_out(fake, caplog):
    fake.fail["sendPhoto"] = (400, "Bad Request: wrong file identifier")
    ch = channel(fake)
    with caplog.at_level(logging.WARNING):
        await send_messages(ch.bot(), CHAT, [{"image": "x"}, {"text": "still here"}])
    assert fake.texts(CHAT) == ["still here"] and "wrong file identifier" in caplog.text.lower()
    await ch.stop()


# --- updates -----------------------------------------------------------------------------


async def test_text_goes_to_rasa_as_the_chat_and_the_reply_comes_back(fake):
    ch, rasa = channel(fake), Echo()
    await ch.process(ch_read(ch, u.message(CHAT, "where is my order TL-10001")), rasa)
    [msg] = rasa.received
    assert (msg.sender_id, msg.input_channel, msg.text) == (
        f"telegram:{CHAT}", "telegram", "where is my order TL-10001")
    assert msg.metadata["telegram"]["chat_id"] == CHAT and "original_text" not in msg.metadata
    assert fake.texts(CHAT) == ["echo: where is my order TL-10001"]
    await ch.stop()


@pytest.mark.parametrize(("typed", "rasa_text"), [("/start", "/greet"),
                                                   ("/restart", "/nlu_fallback"),
                                                   ('/inform{"order_id":"x"}', "/nlu_fallback")])
async def test_commands_are_sanitised_and_the_original_kept(fake, typed, rasa_text):
    ch, rasa = channel(fake), Echo()
    await ch.process(ch_read(ch, u.message(CHAT, typed)), rasa)
    assert rasa.received[0].text == rasa_text
    assert rasa.received[0].metadata["original_text"] == typed
    await ch.stop()


async def test_silent_turn_gets_the_apology_and_takeover_stays_silent(fake, tg_db):
    ch = channel(fake)
    await ch.process(ch_read(ch, u.message(CHAT, "hello")), Echo(reply=[]))
    assert fake.texts(CHAT) == [APOLOGY]
    with session_scope() as s:
        open_ticket(s, f"telegram:{CHAT}", None, "handoff", "summary", takeover=True)
    fake.calls.clear()
    await ch.process(ch_read(ch, u.message(CHAT, "hello?")), Echo(reply=[]))
    await ch.process(ch_read(ch, u.sticker(CHAT)), Echo())
    assert fake.sent() == []
    await ch.stop()


async def test_media_without_text_gets_a_polite_reply_and_skips_rasa(fake):
    ch, rasa = channel(fake), Echo()
    for body in (u.sticker(CHAT), u.photo(CHAT), u.audio_file(CHAT), u.video_note(CHAT)):
        await ch.process(ch_read(ch, body), rasa)
    assert fake.texts(CHAT) == [MEDIA_REPLY] * 4 and rasa.received == []
    await ch.stop()


# --- voice notes -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def order_question():
    """A voice note asking about an order, spoken by Piper (OGG/Opus)."""
    return spoken_ogg("Where is my order?")


async def test_voice_note_is_transcribed_and_answered_in_text_and_voice(fake, order_question):
    fake.add_file("vn-order", order_question)
    ch, rasa = channel(fake), Echo(reply=[
        {"text": "Your parcel is on its way with DHL.",
         "buttons": [{"title": "Thanks", "payload": "/thank"}]}])
    body = u.voice(CHAT, "vn-order", duration=2)
    await ch.process(ch_read(ch, body), rasa)
    [msg] = rasa.received
    assert (msg.sender_id, msg.input_channel) == (f"telegram:{CHAT}", "telegram")
    assert {"my", "order"} <= words(msg.text)  # "Where's my order?"
    assert msg.metadata["telegram"]["update_id"] == body["update_id"]
    assert msg.metadata["voice"]["transcript"] == msg.text
    assert msg.metadata["voice"]["asr_engine"] == "whisper"
    assert fake.downloads == ["voice/vn-order.oga"]
    [text] = fake.sent("sendMessage", CHAT)  # sent as for a text turn: keyboard included
    assert text.params["text"] == "Your parcel is on its way with DHL."
    assert resolve_button(text.markup()["inline_keyboard"][0][0]["callback_data"]) == "/thank"
    [voice] = fake.sent("sendVoice", CHAT)
    assert [m for m in fake.sent() if m.method.startswith("send")][-1] is voice  # voice last
    ogg = voice.files["voice"]
    assert ogg[:4] == b"OggS" and voice.params["voice"] == "<file reply.ogg>"
    assert int(voice.params["duration"]) == round(decode(ogg).seconds) >= 1
    assert {"parcel", "way"} <= words(heard(ogg))
    await ch.stop()


async def test_silent_voice_note_is_not_heard_and_skips_rasa(fake):
    fake.add_file("vn-silent", silent_ogg(2.0))
    ch, rasa = channel(fake), Echo()
    await ch.process(ch_read(ch, u.voice(CHAT, "vn-silent")), rasa)
    assert rasa.received == [] and fake.texts(CHAT) == [NOT_HEARD]
    assert fake.sent("sendVoice") == []
    await ch.stop()


@pytest.mark.parametrize(
    ("content", "reply"),
    [(b"\x00garbage, not audio" * 50, UNREADABLE_REPLY),  # not any audio container
     (b"OggS" + bytes(300), UNREADABLE_REPLY),  # a broken OGG header
     (None, DOWNLOAD_FAILED_REPLY)],  # getFile answers 400 (unknown file_id)
)
async def test_unusable_voice_note_gets_a_polite_text(fake, caplog, content, reply):
    if content is not None:
        fake.add_file("vn-bad", content)
    ch, rasa = channel(fake), Echo()
    with caplog.at_level(logging.DEBUG):
        await ch.process(ch_read(ch, u.voice(CHAT, "vn-bad")), rasa)
    assert fake.texts(CHAT) == [reply] and rasa.received == []
    assert fake.sent("sendVoice") == []
    [logged] = [r for r in caplog.records if r.name == "connectors.telegram_voice"]
    assert logged.levelno == logging.WARNING and f"chat {CHAT}" in logged.getMessage()
    assert TOKEN.split(":")[1] not in caplog.text  # file URLs hold the token
    await ch.stop()


@pytest.mark.parametrize("failing", ["getFile", "file"])
async def test_failed_file_download_gets_a_polite_text(fake, caplog, failing):
    fake.add_file("vn-gone", b"x")
    fake.fail[failing] = (502, "Bad Gateway")
    ch, rasa = channel(fake), Echo()
    with caplog.at_level(logging.DEBUG):
        await ch.process(ch_read(ch, u.voice(CHAT, "vn-gone")), rasa)
    assert fake.texts(CHAT) == [DOWNLOAD_FAILED_REPLY] and rasa.received == []
    assert fake.downloads == ([] if failing == "getFile" else ["voice/vn-gone.oga"])
    assert "download for chat" in caplog.text and TOKEN.split(":")[1] not in caplog.text
    await ch.stop()


async def test_too_long_voice_notes_are_not_downloaded(fake):
    fake.add_file("vn-long", bytes(MAX_VOICE_BYTES + 1))
    ch, rasa = channel(fake), Echo()
    for body in (u.voice(CHAT, "vn-long", duration=61),
                 u.voice(CHAT, "vn-long", file_size=MAX_VOICE_BYTES + 1),
                 u.voice(CHAT, "vn-long")):  # the update hides the size; getFile tells it
        await ch.process(ch_read(ch, body), rasa)
    assert fake.texts(CHAT) == [TOO_LONG_REPLY] * 3 and rasa.received == []
    assert len(fake.sent("getFile")) == 1 and fake.downloads == []
    await ch.stop()


async def test_speech_engines_that_fail_to_load_get_a_polite_text(fake, caplog):
    def broken() -> SpeechEngines:
        return SpeechEngines(load_recognizer("no-such-engine"), load_synthesizer())

    fake.add_file("vn-order", b"never downloaded")
    ch = TelegramInput(channel(fake).settings, speech_engines=broken)
    with caplog.at_level(logging.ERROR):
        await ch.process(ch_read(ch, u.voice(CHAT, "vn-order")), Echo())
    assert fake.texts(CHAT) == [VOICE_UNAVAILABLE_REPLY] and fake.downloads == []
    assert "speech engines unavailable" in caplog.text and "no-such-engine" in caplog.text
    await ch.stop()


async def test_voice_notes_during_a_takeover_reach_rasa_and_the_bot_stays_silent(
        fake, order_question):
    with session_scope() as s:
        open_ticket(s, f"telegram:{CHAT}", None, "handoff", "summary", takeover=True)
    fake.add_file("vn-order", order_question)
    fake.add_file("vn-silent", silent_ogg(1.0))
    rasa = Echo(reply=[])  # Rasa's takeover policy answers nothing
    ch = channel(fake)
    for body in (u.voice(CHAT, "vn-order"), u.voice(CHAT, "vn-silent"),
                 u.voice(CHAT, "vn-unknown"), u.voice(CHAT, "vn-order", duration=90)):
        await ch.process(ch_read(ch, body), rasa)
    assert [m for m in fake.sent() if m.method.startswith("send")] == []
    assert len(rasa.received) == 1 and "order" in words(rasa.received[0].text)
    await ch.stop()


async def test_button_tap_answers_the_query_and_sends_the_payload(fake):
    payload = "Хочу поговорить с человеком 🙋 about order TL-10001, please, right now"
    assert len(payload.encode()) > 64
    [data] = store_buttons([payload])
    ch, rasa = channel(fake), Echo()
    body = u.tap(CHAT, data)
    await ch.process(ch_read(ch, body), rasa)
    [answer] = fake.sent("answerCallbackQuery")
    assert answer.params["callback_query_id"] == body["callback_query"]["id"]
    assert "text" not in answer.params
    assert [m.text for m in rasa.received] == [payload]
    await ch.stop()


async def test_unknown_button_gets_a_notice_and_nothing_reaches_rasa(fake):
    ch, rasa = channel(fake), Echo()
    await ch.process(ch_read(ch, u.tap(CHAT, "b:AAAAAAAAAAAAAAAA")), rasa)
    [answer] = fake.sent("answerCallbackQuery")
    assert answer.params["text"] == EXPIRED_BUTTON and rasa.received == []
    await ch.stop()


async def test_accept_dedupes_ignores_and_answers_in_the_background(fake, tg_db):
    ch, rasa = channel(fake), Echo()
    body = u.message(CHAT, "hello")
    assert await ch.accept(body, rasa) == (200, {"status": "accepted"})
    assert await ch.accept(body, rasa) == (200, {"status": "duplicate"})
    status, reply = await ch.accept(u.message(CHAT, "x", key="edited_message"), rasa)
    assert (status, reply["status"]) == (200, "ignored")
    assert (await ch.accept(u.members(GROUP, joined=True), rasa))[1]["status"] == "ignored"
    assert (await ch.accept({"no": "update"}, rasa))[0] == 400
    assert (await ch.accept([1, 2], rasa))[0] == 400
    await ch.drain()
    assert [m.text for m in rasa.received] == ["hello"]
    assert fake.texts(CHAT) == ["echo: hello"]
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(TelegramSeenUpdate)) == 3
    await ch.stop()


async def test_an_update_a_dead_server_left_pending_is_answered_by_the_sweep(fake, tg_db):
    ch, rasa = channel(fake), Echo()
    body = u.message(CHAT, "are you there?")
    assert await ch.accept(body, rasa) == (200, {"status": "accepted"})
    await ch.drain()
    assert not pending(BOT_ID, body["update_id"])  # answered: nothing left
    assert await ch.sweep(rasa) == 0
    lost = u.message(CHAT, "hello?")  # taken by a server that died before answering it
    first_delivery(BOT_ID, lost["update_id"], None, json.dumps(lost))
    assert await ch.sweep(rasa) == 0  # not stale yet
    backdate(lost["update_id"])
    assert await ch.sweep(rasa) == 1
    await ch.drain()
    assert [m.text for m in rasa.received] == ["are you there?", "hello?"]
    assert fake.texts(CHAT) == ["echo: are you there?", "echo: hello?"]
    assert not pending(BOT_ID, lost["update_id"]) and await ch.sweep(rasa) == 0
    unreadable = u.next_id()
    first_delivery(BOT_ID, unreadable, None, '{"update_id": 1, "message": ')
    backdate(unreadable)
    assert await ch.sweep(rasa) == 1
    await ch.drain()
    assert not pending(BOT_ID, unreadable) and len(rasa.received) == 2
    await ch.stop()


async def test_an_update_that_cannot_be_recorded_is_refused_for_telegram_to_send(fake, env,
                                                                                  tmp_path):
    ch, rasa = channel(fake), Echo()
    env.set("DATABASE_URL", f"sqlite:///{tmp_path / 'no such folder' / 'tg.db'}")
    status, reply = await ch.accept(u.message(CHAT, "hello"), rasa)
    await ch.drain()
    assert status == 503 and "send it again" in reply["error"]
    assert rasa.received == [] and fake.texts(CHAT) == []
    await ch.stop()


async def test_malformed_updates_are_a_400_not_an_error(fake):
    ch, rasa = channel(fake), Echo()
    # each once raised: a 500, or an exception in a task nobody awaited
    far_date = u.message(CHAT, "hi")
    far_date["message"]["date"] = 1e20
    huge_id = {**u.message(CHAT, "hi"), "update_id": 2**64}
    no_from = {"update_id": u.next_id(), "callback_query": {"id": "q1", "chat_instance": "c",
                                                          "data": "b:1"}}
    long_voice = u.voice(CHAT, duration=10**23)
    text_chat_id = u.message(CHAT, "hi")
    text_chat_id["message"]["chat"]["id"] = "abc"
    for bad in (far_date, huge_id, no_from, long_voice, text_chat_id):
        assert (await ch.accept(bad, rasa))[0] == 400, bad
    await ch.drain()
    assert rasa.received == [] and fake.texts(CHAT) == []
    await ch.stop()



async def test_updates_of_one_chat_are_answered_in_arrival_order(fake):
    other_seen = asyncio.Event()

    class SlowFirst(Echo):
        """Holds "first" until "other chat" has been received (10 s at most): a channel
        that made other chats wait behind it would time out and fail the order below."""

        async def __call__(self, message: UserMessage) -> None:
            if message.text == "other chat":
                other_seen.set()
            if message.text == "first":
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(other_seen.wait(), 10)
            await super().__call__(message)

    ch, rasa = channel(fake), SlowFirst()
    for text in ("first", "second"):
        await ch.accept(u.message(CHAT, text), rasa)
    await ch.accept(u.message(CHAT + 1, "other chat"), rasa)
    await ch.drain()
    assert fake.texts(CHAT) == ["echo: first", "echo: second"]
    assert [m.text for m in rasa.received][0] == "other chat"  # other chats do not wait
    await ch.stop()


def test_secret_check(fake):
    ch = channel(fake)
    assert ch.secret_ok(SECRET)
    assert not ch.secret_ok(None) and not ch.secret_ok("") and not ch.secret_ok(SECRET + "x")


async def test_start_registers_the_webhook_and_never_logs_the_token(fake, caplog):
    ch = channel(fake, bot_name=None, webhook_url="https://shop.example/webhooks/telegram/webhook")
    with caplog.at_level(logging.DEBUG):
        await ch.start()
        await send_messages(ch.bot(), CHAT, [{"text": "hi"}])
        await ch.stop()
    assert await ch.username() == USERNAME
    [hook] = fake.sent("setWebhook")
    assert hook.params["url"] == "https://shop.example/webhooks/telegram/webhook"
    assert hook.params["secret_token"] == SECRET
    assert json.loads(hook.params["allowed_updates"]) == ALLOWED_UPDATES
    assert {c.token for c in fake.sent()} == {TOKEN}
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text
    await ch.stop()


async def test_unconfigured_channel_loads_and_refuses(env, caplog):
    for var in ("TELEGRAM_TOKEN", "TELEGRAM_SECRET_TOKEN"):
        env.unset(var)
    with caplog.at_level(logging.INFO):
        ch = TelegramInput.from_credentials({"token_env": "TELEGRAM_TOKEN"})
    assert "set TELEGRAM_TOKEN" in caplog.text
    assert ch.get_output_channel() is None
    with pytest.raises(RuntimeError, match="TELEGRAM_TOKEN"):
        ch.bot()
    await ch.start()  # nothing to do, no error
    await ch.stop()


async def test_output_channel_sends_to_the_chat_of_the_conversation(fake):
    ch = channel(fake)
    out = ch.get_output_channel()
    await out.send_response(f"telegram:{GROUP}", {"text": "An agent says hi"})
    await out.send_text_message(f"telegram:{CHAT}", "second")
    assert fake.texts(GROUP) == ["An agent says hi"] and fake.texts(CHAT) == ["second"]
    await ch.stop()
