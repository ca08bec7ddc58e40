"""Voice-activity detection and end-of-utterance detection for streamed audio.

The detector is Silero VAD v6, the ONNX model faster-whisper ships in its package
(``faster_whisper/assets/silero_vad_v6.onnx``), run one 32 ms window at a time with its
recurrent state kept per stream (the streaming use its authors describe:
https://github.com/snakers4/silero-vad).  :class:`Endpointer` turns the per-window speech
probabilities into "the caller started talking" and "the caller finished this utterance".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bot.speech.audio import ASR_RATE, Audio

WINDOW = 512
"""Samples per Silero window at 16 kHz (32 ms)."""
CONTEXT = 64
"""Samples of the previous window the v6 model sees in front of each window."""
WINDOW_S = WINDOW / ASR_RATE
SPEECH_P = 0.5
"""Speech probability at or above which a window is speech (Silero's own default)."""
QUIET_P = 0.35
"""Probability below which a window is quiet (Silero's default hysteresis, 0.15 below)."""
KEEP_AFTER_S = 0.5
"""Quiet after speech at which :class:`SileroStream` keeps its recurrent state (seconds)."""
RESTORE_EVERY_S = 1.0
"""While the line stays quiet, :class:`SileroStream` goes back to the kept state this
often (seconds)."""


@cache
def _session() -> Any:  # onnxruntime.InferenceSession (onnxruntime has no type hints)
    import onnxruntime
    from faster_whisper.utils import get_assets_path

    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 4
    path = os.path.join(get_assets_path(), "silero_vad_v6.onnx")
    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"], sess_options=opts)


class SileroStream:
    """Speech probabilities for one audio stream at 16 kHz (state kept between calls)."""

    def __init__(self) -> None:
        self._session = _session()
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, CONTEXT), dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._kept = (self._h, self._c)
        self._quiet = 0  # quiet windows in a row
        self._since = 0  # of those, how many had passed when the state was last kept or restored
        # a speech window since the state was last kept; True at first, so that the state
        # kept before any speech is the one warmed by KEEP_AFTER_S of the line's quiet
        self._spoke = True

    def feed(self, samples: NDArray[np.float32]) -> list[float]:
        """Add 16 kHz samples; return the probability of speech, in [0, 1], for each
        complete 32 ms window they finish (the remainder waits for the next call)."""
        self._pending = np.concatenate([self._pending, samples.astype(np.float32)])
        probs = []
        while len(self._pending) >= WINDOW:
            window = self._pending[None, :WINDOW]
            self._pending = self._pending[WINDOW:]
            out, self._h, self._c = self._session.run(
                None,
                {
                    "input": np.concatenate([self._context, window], axis=1),
                    "h": self._h,
                    "c": self._c,
                },
            )
            self._context = window[:, -CONTEXT:]
            probs.append(float(np.ravel(out)[0]))
            self._settle(probs[-1])
        return probs

    def _settle(self, p: float) -> None:
        """Keep the recurrent state :data:`KEEP_AFTER_S` into the quiet after speech (and
        into the stream's first quiet), and go back to it every :data:`RESTORE_EVERY_S`
        while the line stays quiet.  Over a long quiet stretch the state drifts and the
        model becomes slow to hear speech again: a caller who had listened to a 20 s reply
        in silence had the start of 34 questions found 0.42 s later at p50 (0.98 s at p95)
        than after 1 s, their first words cut off ("I was charged twice" heard as
        "twice"), and after 60 s of line noise (-45 dBFS) the p95 question was never
        heard.  Going back keeps it at p50 / p95 0.16 / 0.24 s after 20 s and 0.16 /
        0.21 s after 60 s (Piper's voice through 8 kHz µ-law; 2026-12-07).  Before any
        speech the state kept was the initial one, which has heard nothing: a call's first
        utterance starting just after going back to it was found late or not at all (four
        questions, three renderings each, each started at 20 points after 1.00 to 1.07
        and 3.00 to 3.07 s of line quiet: 10 of 240 never heard, the start found p95
        0.46 s late; kept after 0.5 s of quiet instead: none missed, p95 0.33 s;
        2026-12-07, a later session).
        Windows in the quiet count from their first; ``p``: this window's."""
        self._spoke = self._spoke or p >= SPEECH_P
        if p >= QUIET_P:
            self._quiet = self._since = 0
            return
        self._quiet += 1
        if self._spoke and self._quiet * WINDOW_S >= KEEP_AFTER_S:
            self._kept, self._spoke, self._since = (self._h, self._c), False, self._quiet
        elif (self._quiet - self._since) * WINDOW_S >= RESTORE_EVERY_S:
            (self._h, self._c), self._since = self._kept, self._quiet


@dataclass(frozen=True)
class EndpointSettings:
    """When speech starts and when an utterance is over.

    Attributes:
        threshold: speech probability at or above which a window is speech.
        release: probability below which a window counts as silence (hysteresis).
        start_s: seconds of speech that start an utterance (shorter noises are ignored).
        end_silence_s: seconds of silence after speech that end the utterance.
        complete_silence_s: the shorter silence that ends it once the words so far are
            known to form a complete request (:meth:`Endpointer.words_complete`); ``None``:
            the window is always :attr:`end_silence_s`.
        pause_s: seconds of silence after speech that announce a likely end (a "pause"
            event, so a recogniser can start before the end is certain).
        pre_roll_s: seconds kept before the detected start, so first sounds are not cut
            (0.5: the first question of a call, on a line quiet since the call began, was
            found up to 0.63 s after its first sound; 0.25 cut 5 of 34 questions' first
            sounds there, 0.5 one).
        max_utterance_s: an utterance is cut here even if the caller keeps talking.
    """

    threshold: float = SPEECH_P
    release: float = QUIET_P
    start_s: float = 0.096
    end_silence_s: float = 0.35
    complete_silence_s: float | None = None
    pause_s: float = 0.128
    pre_roll_s: float = 0.5
    max_utterance_s: float = 30.0


@dataclass
class Endpointer:
    """Streams 16 kHz audio in; reports speech starts and finished utterances.

    Call :meth:`feed` with each piece of audio; it returns the events of that piece:
    ``("speech", None)`` when the caller starts talking; ``("pause", Audio)`` after
    :attr:`EndpointSettings.pause_s` of silence (the utterance so far), ``("resume",
    None)`` if they talk again after a pause; ``("utterance", Audio)`` when they have
    finished (the audio from just before the start to the end of speech).

    Adaptive end of turn: after a pause the caller may learn (from an early transcript)
    that the words so far form a complete request and call :meth:`words_complete`; the
    utterance then ends after :attr:`EndpointSettings.complete_silence_s` of silence
    instead of :attr:`EndpointSettings.end_silence_s` (until the caller talks again).
    """

    settings: EndpointSettings = field(default_factory=EndpointSettings)
    _vad: SileroStream = field(default_factory=SileroStream)
    _audio: list[NDArray[np.float32]] = field(default_factory=list)
    _buffered: int = 0
    _speech_run: int = 0
    _silence_run: int = 0
    _talking: bool = False
    _complete: bool = False
    heard_s: float = 0.0
    """Seconds of audio fed so far (the stream's clock)."""

    def feed(self, samples: NDArray[np.float32]) -> list[tuple[str, Audio | None]]:
        """Add 16 kHz mono float32 samples; return this piece's events, in order."""
        events: list[tuple[str, Audio | None]] = []
        self._audio.append(samples.astype(np.float32))
        self._buffered += len(samples)
        self.heard_s += len(samples) / ASR_RATE
        s = self.settings
        for p in self._vad.feed(samples):
            if not self._talking:
                self._speech_run = self._speech_run + 1 if p >= s.threshold else 0
                if self._speech_run * WINDOW_S >= s.start_s:
                    self._talking, self._silence_run = True, 0
                    self._keep_last(s.pre_roll_s + self._speech_run * WINDOW_S)
                    events.append(("speech", None))
                continue
            paused = self._silence_run * WINDOW_S >= s.pause_s
            self._silence_run = self._silence_run + 1 if p < s.release else 0
            if paused and self._silence_run == 0:
                self._complete = False
                events.append(("resume", None))
            elif not paused and self._silence_run * WINDOW_S >= s.pause_s:
                events.append(("pause", Audio(np.concatenate(self._audio), ASR_RATE)))
            too_long = self._buffered >= s.max_utterance_s * ASR_RATE
            if self._silence_run * WINDOW_S >= self._end_silence_s or too_long:
                events.append(("utterance", self._take()))
        if not self._talking:
            self._keep_last(s.pre_roll_s + s.start_s + WINDOW_S)
        return events

    def words_complete(self) -> None:
        """The words of the current pause form a complete request: end the utterance after
        the shorter silence (no effect without ``complete_silence_s`` or a pause)."""
        self._complete = self._talking and self._silence_run > 0

    @property
    def _end_silence_s(self) -> float:
        short = self.settings.complete_silence_s
        return short if self._complete and short is not None else self.settings.end_silence_s

    @property
    def talking(self) -> bool:
        """Whether the caller is in the middle of an utterance."""
        return self._talking

    @property
    def silent_s(self) -> float:
        """Seconds of silence counted since the caller's last speech window, inside an
        utterance (0.0 while they talk or between utterances); the end of turn comes when
        it reaches the utterance's silence window."""
        return self._silence_run * WINDOW_S if self._talking else 0.0

    def _keep_last(self, seconds: float) -> None:
        keep = int(seconds * ASR_RATE)
        if self._buffered > keep:
            audio = np.concatenate(self._audio)[-keep:]
            self._audio, self._buffered = [audio], len(audio)

    def _take(self) -> Audio:
        audio = Audio(np.concatenate(self._audio), ASR_RATE)
        self._audio, self._buffered = [], 0
        self._talking, self._speech_run, self._silence_run = False, 0, 0
        self._complete = False
        return audio
