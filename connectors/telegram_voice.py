"""Answer a Telegram voice note: download, transcribe, one Rasa turn, text and voice back.

Steps for a :class:`~connectors.telegram_inbound.VoiceNote` addressed to the bot:

1. Longer than :data:`MAX_VOICE_SECONDS` or larger than :data:`MAX_VOICE_BYTES` (as the
   update states them): :data:`TOO_LONG_REPLY`, nothing downloaded.
2. The speech engines are loaded off the event loop (:func:`bot.speech.engines.shared_engines`,
   once per process); a failure: :data:`VOICE_UNAVAILABLE_REPLY`.
3. ``getFile`` and the file download (python-telegram-bot); a Bot API or network error:
   :data:`DOWNLOAD_FAILED_REPLY`; a file that turns out too large: :data:`TOO_LONG_REPLY`.
4. :func:`bot.speech.audio.decode` in a worker thread; unreadable audio
   (:class:`~bot.speech.audio.AudioError`): :data:`UNREADABLE_REPLY`.
5. :func:`connectors.voice_turn.answer_speech`: the transcript goes to Rasa like typed text
   (same sanitiser, same apology for a silent turn) with the Telegram metadata plus
   ``metadata["voice"]`` (transcript, engine, timings).  Nothing heard:
   :data:`~connectors.wording.NOT_HEARD` as text and no Rasa turn.
6. The bot messages are sent exactly as for a text turn
   (:func:`connectors.telegram_outbound.send_messages`), then the same answer spoken
   (:func:`connectors.voice_turn.speak_all`, Piper by default) as one ``sendVoice``
   (OGG/Opus).  A synthesis failure is logged; the text has already gone out.

During a human takeover the transcript still reaches Rasa (the agent sees it in the
conversation) while the bot stays silent: Rasa answers nothing, so no text and no voice are
sent, and none of the replies above is sent either.  Every failure is logged; none raises.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from telegram import Bot
from telegram.error import TelegramError

from bot.dialogue.turn import ConversationId, held_by_person
from bot.speech.audio import AudioError, decode, encode
from bot.speech.engines import SpeechEngines
from connectors.telegram_inbound import VoiceNote
from connectors.telegram_outbound import send_messages, send_voice
from connectors.voice_turn import answer_speech, speak_all
from connectors.wording import (
    DOWNLOAD_FAILED_REPLY,
    NOT_HEARD,
    TOO_LONG_REPLY,
    UNREADABLE_REPLY,
    VOICE_UNAVAILABLE_REPLY,
)

logger = logging.getLogger(__name__)

MAX_VOICE_SECONDS = 60
"""Longest voice note answered, in seconds (the speech engines' limit for one piece)."""
MAX_VOICE_BYTES = 1024 * 1024
"""Largest voice note downloaded, in bytes (1 MiB; a minute of Telegram Opus is ~0.3 MiB)."""

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class _TooLarge(Exception):
    """The file ``getFile`` describes is larger than :data:`MAX_VOICE_BYTES`."""


def too_long(note: VoiceNote) -> bool:
    """Whether ``note`` exceeds :data:`MAX_VOICE_SECONDS` or :data:`MAX_VOICE_BYTES` as the
    update describes it (an unknown size counts as small enough)."""
    return note.duration > MAX_VOICE_SECONDS or (note.file_size or 0) > MAX_VOICE_BYTES


async def download(bot: Bot, file_id: str) -> bytes:
    """The bytes of a file: ``getFile``, then a GET of ``{base_file_url}{token}/{file_path}``.

    Args:
        bot: a PTB bot (its ``base_file_url`` says where files are served).
        file_id: the file's id from the update.

    Returns:
        The file's content.

    Raises:
        telegram.error.TelegramError: the Bot API refused (e.g. an expired ``file_id``) or the
            download failed (network error, timeout, HTTP error status).
        _TooLarge: ``getFile`` reports more than :data:`MAX_VOICE_BYTES` bytes.
    """
    file = await bot.get_file(file_id)
    if (file.file_size or 0) > MAX_VOICE_BYTES:
        raise _TooLarge(f"{file.file_size} bytes")
    if not file.file_path:  # Telegram omits it for files it will not serve (over 20 MB)
        raise TelegramError("getFile returned no file_path")
    return bytes(await file.download_as_bytearray())


async def _say(bot: Bot, chat_id: int, text: str) -> None:
    """Send one of this module's own replies, unless a person holds the conversation."""
    if not await held_by_person(ConversationId.telegram(chat_id)):
        await send_messages(bot, chat_id, [{"text": text}])


async def _speak_reply(bot: Bot, chat_id: int, engines: SpeechEngines, text: str) -> None:
    """``sendVoice`` with ``text`` synthesised and encoded as OGG/Opus (nothing for no audio)."""
    try:
        audio = await speak_all(engines, text)
        if audio is None:
            return
        ogg = await asyncio.to_thread(encode, audio, "ogg")
    except Exception:  # any engine failure: the text reply has already been sent
        logger.exception("voice reply for chat %s could not be synthesised", chat_id)
        return
    await send_voice(bot, chat_id, ogg, audio.seconds)


async def answer_voice(
    bot: Bot,
    chat_id: int,
    note: VoiceNote,
    metadata: dict[str, Any],
    on_new_message: OnNewMessage,
    input_channel: str,
    load_engines: Callable[[], SpeechEngines],
) -> None:
    """Answer one voice note (the steps of the module docstring); failures are logged and
    answered with a short text, never raised.

    Args:
        bot: the channel's PTB bot.
        chat_id: the chat the note came from; the conversation is ``telegram:<chat_id>``.
        note: the voice note from the update.
        metadata: ``{"telegram": {...}}`` as for a text message of the same update.
        on_new_message: Rasa's message handler.
        input_channel: the channel name recorded on the Rasa user event.
        load_engines: returns the speech engines (called in a worker thread; may raise).
    """
    if too_long(note):
        logger.info("voice note in chat %s not downloaded: %s s, %s bytes", chat_id,
                    note.duration, note.file_size)
        await _say(bot, chat_id, TOO_LONG_REPLY)
        return
    try:
        engines = await asyncio.to_thread(load_engines)
    except Exception:  # integrity, configuration or import errors alike
        logger.exception("speech engines unavailable; voice note in chat %s not answered",
                         chat_id)
        await _say(bot, chat_id, VOICE_UNAVAILABLE_REPLY)
        return
    try:
        data = await download(bot, note.file_id)
    except _TooLarge as exc:
        logger.info("voice note in chat %s not downloaded: %s", chat_id, exc)
        await _say(bot, chat_id, TOO_LONG_REPLY)
        return
    except TelegramError as exc:
        logger.warning("voice note download for chat %s failed: %s: %s", chat_id,
                       type(exc).__name__, exc.message)
        await _say(bot, chat_id, DOWNLOAD_FAILED_REPLY)
        return
    try:
        audio = await asyncio.to_thread(decode, data, float(MAX_VOICE_SECONDS))
    except AudioError as exc:
        logger.warning("voice note in chat %s is not readable audio (%d bytes): %s", chat_id,
                       len(data), exc)
        await _say(bot, chat_id, UNREADABLE_REPLY)
        return
    reply = await answer_speech(engines, on_new_message, audio,
                                str(ConversationId.telegram(chat_id)),
                                input_channel, metadata)
    if not reply.transcript:
        logger.info("nothing heard in a %.1f s voice note in chat %s", audio.seconds, chat_id)
        await _say(bot, chat_id, NOT_HEARD)
        return
    await send_messages(bot, chat_id, reply.messages)
    if reply.text:
        await _speak_reply(bot, chat_id, engines, reply.text)
