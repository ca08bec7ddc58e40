"""One spoken turn, shared by every voice path: Twilio calls, ``POST
/webhooks/voice/utterance``, Telegram voice notes and the widget's microphone.

Speech is transcribed, the transcript goes to Rasa like a typed message (same sanitising,
same apology for a silent turn), and the replies are turned into speakable text and audio.
Nothing heard means no Rasa turn and a request to repeat.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import UserMessage

from bot.dialogue.turn import run_turn
from bot.speech.asr import Transcript
from bot.speech.audio import Audio
from bot.speech.engines import SpeechEngines
from bot.speech.spoken import spoken_text
from bot.support.messages import BotMessage
from connectors.sanitize import sanitize_message
from connectors.wording import NOT_HEARD


@dataclass(frozen=True)
class VoiceReply:
    """The outcome of one spoken turn.

    Attributes:
        transcript: what the recogniser heard (``""`` for nothing).
        messages: the bot messages (Rasa's collector format) to show on screen.
        text: the same messages as one speakable text.
    """

    transcript: str
    messages: list[BotMessage]
    text: str


def _heard(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


async def answer_speech(
    engines: SpeechEngines,
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    audio: Audio,
    sender_id: str,
    input_channel: str,
    metadata: dict[str, Any] | None = None,
    heard: Transcript | None = None,
    parse_data: dict[str, Any] | None = None,
) -> VoiceReply:
    """Transcribe ``audio`` (in a worker thread) and let Rasa answer the transcript.

    Args:
        engines: the recogniser used.
        on_new_message: the channel's Rasa callback.
        audio: the caller's utterance, any rate.
        sender_id: the conversation id.
        input_channel: the channel's name, recorded on the user event.
        metadata: channel metadata; ``metadata["voice"]`` gets the transcript details.
        heard: the transcript when the caller already has it (``audio`` is then only
            measured, not transcribed again).
        parse_data: Rasa's NLU result for ``heard`` computed beforehand (a committed
            speculative turn); used only when it is for the very text Rasa gets.

    Returns:
        The transcript and replies; when nothing was recognised, Rasa is not called and
        the reply is :data:`NOT_HEARD`.
    """
    transcript = heard or await asyncio.to_thread(engines.recognizer.transcribe, audio)
    if not _heard(transcript.text):
        messages = [{"recipient_id": sender_id, "text": NOT_HEARD}]
        return VoiceReply("", messages, NOT_HEARD)
    voice = {
        **(metadata or {}).get("voice", {}),
        "transcript": transcript.text,
        "asr_engine": transcript.engine,
        "audio_s": round(audio.seconds, 3),
        "asr_s": round(transcript.seconds, 3),
    }
    text, meta = sanitize_message(transcript.text, {**(metadata or {}), "voice": voice})
    if parse_data is not None and parse_data.get("text") != text:
        parse_data = None
    messages = await run_turn(on_new_message, text, sender_id, input_channel, meta,
                              parse_data)
    return VoiceReply(transcript.text, messages, spoken_text(messages))


async def speak(engines: SpeechEngines, text: str) -> AsyncIterator[Audio]:
    """``text`` as audio, one piece per sentence, each synthesised in a worker thread."""
    pieces = engines.synthesizer.speak(text)
    while (piece := await asyncio.to_thread(next, pieces, None)) is not None:
        yield piece


async def speak_all(engines: SpeechEngines, text: str) -> Audio | None:
    """``text`` as one piece of audio (``None`` for nothing to say)."""
    whole: Audio | None = None
    async for piece in speak(engines, text):
        whole = piece if whole is None else whole.then(piece)
    return whole
