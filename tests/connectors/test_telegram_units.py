"""Telegram channel parts without I/O: settings, reading updates, splitting, button ids."""

from __future__ import annotations

import pytest
from telegram import Update

from bot.config import Settings
from connectors.telegram import TelegramSettings
from connectors.telegram_inbound import Kind, VoiceNote, read_update
from connectors.telegram_outbound import MAX_TEXT, split_text, utf16_len
from connectors.telegram_store import BUTTON_PREFIX, button_ref
from connectors.telegram_voice import MAX_VOICE_BYTES, MAX_VOICE_SECONDS, too_long
from testing import telegram_updates as u
from testing.fake_telegram import BOT_ID, TOKEN, USERNAME

ENV = {"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_SECRET_TOKEN": "s3cret-_OK"}


def test_settings_from_default_variables():
    s = TelegramSettings.from_env(None, Settings.from_env({
        **ENV, "TELEGRAM_BOT_NAME": "@Shop_bot", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot"}))
    assert s.problem is None and s.bot_id == BOT_ID and s.bot_name == "Shop_bot"
    assert s.base_file_url == "http://127.0.0.1:9/file/bot" and s.webhook_url is None


def test_settings_variable_names_come_from_credentials():
    names = {"token_env": "MY_TG", "secret_token_env": "MY_SECRET"}
    s = TelegramSettings.from_env(names, Settings.from_env({"MY_TG": TOKEN, "MY_SECRET": "x"}))
    assert s.problem is None and s.token == TOKEN
    missing = TelegramSettings.from_env(names, Settings.from_env(ENV))
    assert missing.problem and "MY_TG" in missing.problem


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({}, "TELEGRAM_TOKEN"),
        ({"TELEGRAM_TOKEN": "   "}, "TELEGRAM_TOKEN"),
        ({"TELEGRAM_TOKEN": "not-a-token"}, "BotFather"),
        ({"TELEGRAM_TOKEN": TOKEN}, "TELEGRAM_SECRET_TOKEN"),
        ({**ENV, "TELEGRAM_SECRET_TOKEN": "has space"}, "A-Z"),
        ({**ENV, "TELEGRAM_SECRET_TOKEN": "x" * 257}, "1-256"),
    ],
)
def test_settings_problems_name_the_variable_and_never_the_secret(env, needle):
    problem = TelegramSettings.from_env(None, Settings.from_env(env)).problem
    assert problem and needle in problem
    assert TOKEN not in problem and "has space" not in problem


def read(body: dict, username: str | None = USERNAME):
    return read_update(Update.de_json(body, None), BOT_ID, username)


GROUP = -100200300


@pytest.mark.parametrize(
    ("body", "kind", "text"),
    [
        (u.message(77, "where is my order TL-10001"), Kind.TEXT, "where is my order TL-10001"),
        (u.message(77, "/start"), Kind.TEXT, "/greet"),
        (u.message(77, "/start promo-42"), Kind.TEXT, "/greet"),
        (u.message(77, "/affirm@TouchlineTestBot"), Kind.TEXT, "/affirm"),
        (u.message(77, "/restart now"), Kind.TEXT, "/restart now"),
        (u.message(GROUP, f"/start@{USERNAME}"), Kind.TEXT, "/greet"),
        (u.message(GROUP, f"/START@{USERNAME.upper()}"), Kind.TEXT, "/greet"),
        (u.message(GROUP, "/start"), Kind.TEXT, "/greet"),
        (u.message(GROUP, "/start@SomeOtherBot"), Kind.IGNORED, ""),
        (u.message(GROUP, "where is my order TL-10001"), Kind.IGNORED, ""),
        (u.message(GROUP, f"@{USERNAME} where is my order TL-10001"), Kind.TEXT,
         "where is my order TL-10001"),
        (u.message(GROUP, f"hi @{USERNAME.lower()}, track TL-10001"), Kind.TEXT,
         "hi, track TL-10001"),
        (u.message(GROUP, "ask @SomeOtherBot"), Kind.IGNORED, ""),
        (u.reply_to_bot(GROUP, "yes please"), Kind.TEXT, "yes please"),
        (u.message(77, "edited", key="edited_message"), Kind.IGNORED, ""),
        (u.message(77, "post", key="channel_post"), Kind.IGNORED, ""),
        (u.members(GROUP, joined=True), Kind.IGNORED, ""),
        (u.members(GROUP, joined=False), Kind.IGNORED, ""),
        (u.sticker(77), Kind.MEDIA, ""),
        (u.voice(77), Kind.VOICE, ""),
        (u.voice(GROUP), Kind.IGNORED, ""),
        (u.voice(GROUP, reply_to_bot=True), Kind.VOICE, ""),
        (u.voice(GROUP, caption=f"for @{USERNAME}"), Kind.VOICE, ""),
        (u.voice(77, caption="my question"), Kind.VOICE, ""),
        (u.audio_file(77), Kind.MEDIA, ""),
        (u.video_note(77), Kind.MEDIA, ""),
        (u.photo(77), Kind.MEDIA, ""),
        (u.photo(77, caption="do you have this in red?"), Kind.TEXT, "do you have this in red?"),
        (u.sticker(GROUP), Kind.IGNORED, ""),
        (u.tap(77, "b:abc"), Kind.TAP, "b:abc"),
        ({"update_id": 5}, Kind.IGNORED, ""),
    ],
)
def test_read_update(body, kind, text):
    inbound = read(body)
    assert (inbound.kind, inbound.text) == (kind, text), inbound.reason
    if kind is not Kind.IGNORED:
        assert inbound.chat_id == (GROUP if "-" in str(inbound.chat_id) else 77)
        assert inbound.metadata["telegram"]["update_id"] == body["update_id"]


def test_read_update_reasons_and_original_text():
    assert read(u.message(77, "x", key="edited_message")).reason == "edited_message"
    assert read(u.members(GROUP, joined=True)).reason == "service message"
    start = read(u.message(GROUP, f"/start@{USERNAME}"))
    assert (start.reason, start.original) == ("command", f"/start@{USERNAME}")
    tapped = read(u.tap(77, "b:x"))
    assert tapped.callback_query_id and tapped.metadata["telegram"]["user_id"] == u.USER["id"]


def test_voice_note_is_described_not_downloaded():
    body = u.voice(GROUP, "AwACAgQ", duration=7, file_size=20480, reply_to_bot=True)
    inbound = read(body)
    assert inbound.voice == VoiceNote("AwACAgQ", 7, 20480)
    assert (inbound.reason, inbound.chat_id) == ("reply to the bot", GROUP)
    assert inbound.metadata["telegram"] == {
        "update_id": body["update_id"], "chat_id": GROUP, "user_id": u.USER["id"],
        "message_id": body["message"]["message_id"]}
    assert read(u.voice(77)).voice == VoiceNote("vc", 2, None)  # file_size is optional
    assert read(u.message(77, "hi")).voice is None


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        (VoiceNote("v", MAX_VOICE_SECONDS, MAX_VOICE_BYTES), False),
        (VoiceNote("v", 3, None), False),
        (VoiceNote("v", MAX_VOICE_SECONDS + 1, 1000), True),
        (VoiceNote("v", 3, MAX_VOICE_BYTES + 1), True),
    ],
)
def test_voice_note_limits(note, expected):
    assert too_long(note) is expected


def test_without_username_only_replies_and_bare_commands_address_the_bot():
    assert read(u.message(GROUP, f"@{USERNAME} hi"), None).kind is Kind.IGNORED
    assert read(u.message(GROUP, f"/start@{USERNAME}"), None).kind is Kind.IGNORED
    assert read(u.message(GROUP, "/start"), None).kind is Kind.TEXT
    assert read(u.reply_to_bot(GROUP, "ok"), None).kind is Kind.TEXT


@pytest.mark.parametrize(
    "text",
    [
        "short",
        "word " * 2000,
        "line of text\n" * 700,
        "x" * 9000,
        "🙂" * 3000,  # 2 UTF-16 units each: 6000 units
        ("Тест кириллицы и эмодзи 🚚 " * 400),
    ],
)
def test_split_text_respects_telegram_limit_and_keeps_every_word(text):
    parts = split_text(text)
    assert parts and all(0 < utf16_len(p) <= MAX_TEXT for p in parts)
    assert "".join(parts).replace(" ", "").replace("\n", "") == (
        text.replace(" ", "").replace("\n", ""))
    if utf16_len(text.strip()) <= MAX_TEXT:
        assert parts == [text.strip()]


def test_split_text_prefers_boundaries_and_handles_blank():
    parts = split_text("alpha beta " * 800)
    assert all(p.endswith(("alpha", "beta")) for p in parts)
    assert split_text("  \n ") == []


def test_button_ref_is_short_deterministic_and_distinct():
    payloads = ["/affirm", "I'd like to talk to a person about my order TL-10001 " * 3,
                "Да, пожалуйста 🙏", "Да, пожалуйста 🙏 "]
    refs = [BUTTON_PREFIX + button_ref(p) for p in payloads]
    assert all(len(r.encode()) <= 64 and r.isascii() for r in refs)
    assert len(set(refs)) == len(refs) and button_ref(payloads[2]) == button_ref(payloads[2])
