"""Voice-note audio for the Telegram tests, made and checked with the real speech engines
(Piper speaks, Whisper listens; :func:`bot.speech.engines.shared_engines`)."""

from __future__ import annotations

import re

from bot.speech.audio import decode, encode, silence
from bot.speech.engines import shared_engines


def spoken_ogg(text: str) -> bytes:
    """``text`` read by the synthesiser, as OGG/Opus like a Telegram voice note."""
    pieces = list(shared_engines().synthesizer.speak(text))
    assert pieces, text
    audio = pieces[0]
    for piece in pieces[1:]:
        audio = audio.then(piece)
    return encode(audio, "ogg")


def silent_ogg(seconds: float = 2.0) -> bytes:
    """``seconds`` of digital silence as OGG/Opus."""
    return encode(silence(seconds), "ogg")


def words(text: str) -> set[str]:
    """Lower-case words of ``text`` without punctuation."""
    return set(re.findall(r"[a-z0-9']+", text.lower()))


def heard(ogg: bytes) -> str:
    """What the recogniser hears in an OGG file."""
    return shared_engines().recognizer.transcribe(decode(ogg)).text
