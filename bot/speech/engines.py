"""The speech engines of one process, loaded once and shared by every voice path."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from bot.speech.asr import Recognizer, load_recognizer
from bot.speech.tts import Synthesizer, load_synthesizer


@dataclass(frozen=True)
class SpeechEngines:
    """A recogniser and a synthesiser.

    Attributes:
        recognizer: speech to text (Whisper by default).
        synthesizer: text to speech (Piper by default).
    """

    recognizer: Recognizer
    synthesizer: Synthesizer


_lock = threading.Lock()
_shared: SpeechEngines | None = None


def shared_engines() -> SpeechEngines:
    """This process's engines, loaded on first use from the environment
    (``TOUCHLINE_ASR_ENGINE``, ``TOUCHLINE_ASR_MODEL_DIR``, ``TOUCHLINE_TTS_ENGINE``,
    ``TOUCHLINE_TTS_VOICE``); a second caller waits for the first load.

    Raises:
        ModelIntegrityError: pinned model files differ from their digests.
        ValueError, RuntimeError: see :func:`~bot.speech.asr.load_recognizer` and
            :func:`~bot.speech.tts.load_synthesizer`.
    """
    global _shared
    with _lock:
        if _shared is None:
            _shared = SpeechEngines(load_recognizer(), load_synthesizer())
        return _shared
