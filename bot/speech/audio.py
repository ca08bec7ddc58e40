"""Audio containers and conversions for the voice channel.

Everything inside Touchline is mono float32 in [-1, 1] at a known sample rate; this module
converts to and from what callers send: WAV, OGG (Opus or Vorbis) and FLAC through
libsndfile (the ``soundfile`` package), 8 kHz G.711 µ-law telephone audio (Twilio Media
Streams) and resampling through libsoxr (the ``soxr`` package); WebM, MP3 and M4A go
through FFmpeg (the ``av`` package that faster-whisper already needs).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import numpy as np
import soundfile as sf
import soxr
from numpy.typing import NDArray

TELEPHONE_RATE = 8000
"""Hz: Twilio Media Streams carry 8 kHz µ-law (Twilio "Media Streams - WebSocket Messages")."""
ASR_RATE = 16000
"""Hz: the rate Whisper, pocketsphinx and the Silero VAD expect."""
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
"""Hz: the sample rates Opus encodes (RFC 6716, section 2)."""
MAX_SECONDS = 60.0
"""Longest audio accepted from a caller in one piece, in seconds."""

AudioFormat = Literal["wav", "ogg"]


class AudioError(ValueError):
    """Audio that cannot be read: empty, not a supported container, or too long."""


@dataclass(frozen=True)
class Audio:
    """Mono audio.

    Attributes:
        samples: float32 array of shape ``(n,)`` with values in [-1, 1].
        rate: sample rate in Hz.
    """

    samples: NDArray[np.float32]
    rate: int

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return len(self.samples) / self.rate

    def at(self, rate: int) -> Audio:
        """This audio resampled to ``rate`` Hz (libsoxr, high quality); itself if equal."""
        if rate == self.rate:
            return self
        samples = soxr.resample(self.samples, self.rate, rate, quality="HQ")
        return Audio(np.asarray(samples, dtype=np.float32), rate)

    def then(self, other: Audio) -> Audio:
        """This audio followed by ``other`` (resampled to this rate)."""
        return Audio(np.concatenate([self.samples, other.at(self.rate).samples]), self.rate)


def silence(seconds: float, rate: int = ASR_RATE) -> Audio:
    """``seconds`` of digital silence at ``rate`` Hz."""
    return Audio(np.zeros(round(seconds * rate), dtype=np.float32), rate)


def decode(data: bytes, max_seconds: float = MAX_SECONDS) -> Audio:
    """Read an audio file from memory; stereo is mixed down.

    WAV, OGG (Opus/Vorbis) and FLAC are read by libsndfile at their own rate; anything else
    FFmpeg knows (WebM/Opus from browsers, MP3, M4A) by PyAV, at 16 kHz.

    Raises:
        AudioError: empty or unreadable data, samples that are NaN or infinite, or longer
            than ``max_seconds`` seconds.
    """
    if not data:
        raise AudioError("no audio was sent")
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            if f.frames > max_seconds * f.samplerate:
                raise AudioError(f"audio is longer than {max_seconds:g} seconds")
            samples = f.read(dtype="float32", always_2d=True)
            rate = f.samplerate
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return _decode_with_ffmpeg(data, max_seconds)
    if not np.isfinite(samples).all():  # float WAVs can hold NaN; Whisper then crawls
        raise AudioError("the audio holds samples that are not numbers")
    return Audio(np.ascontiguousarray(samples.mean(axis=1), dtype=np.float32), rate)


def _decode_with_ffmpeg(data: bytes, max_seconds: float) -> Audio:
    """WebM/Opus (browsers' MediaRecorder), MP3, M4A and the rest through PyAV (FFmpeg),
    resampled to 16 kHz mono while decoding."""
    import av

    pieces: list[NDArray[Any]] = []  # float32 (format "flt"); typed by PyAV as any dtype
    limit = int(max_seconds * ASR_RATE)
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise AudioError("the file holds no audio")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=ASR_RATE)
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    pieces.append(out.to_ndarray().ravel())
                if sum(map(len, pieces)) > limit:
                    raise AudioError(f"audio is longer than {max_seconds:g} seconds")
    except (av.FFmpegError, ValueError, IndexError) as exc:
        if isinstance(exc, AudioError):
            raise
        raise AudioError("audio must be WAV, OGG (Opus or Vorbis), FLAC, WebM, MP3 or M4A") from exc
    if not pieces:
        raise AudioError("the file holds no audio")
    return Audio(np.concatenate(pieces).astype(np.float32), ASR_RATE)


def encode(audio: Audio, fmt: AudioFormat = "wav") -> bytes:
    """``audio`` as a 16-bit PCM WAV file or an OGG/Opus file (resampled to an Opus rate).

    Raises:
        ValueError: ``fmt`` is not ``"wav"`` or ``"ogg"``.
    """
    buf = io.BytesIO()
    if fmt == "wav":
        sf.write(buf, audio.samples, audio.rate, format="WAV", subtype="PCM_16")
    elif fmt == "ogg":
        rate = min((r for r in OPUS_RATES if r >= audio.rate), default=OPUS_RATES[-1])
        sf.write(buf, audio.at(rate).samples, rate, format="OGG", subtype="OPUS")
    else:
        raise ValueError(f"unknown audio format {fmt!r}")
    return buf.getvalue()


@cache
def _mulaw_table() -> NDArray[np.float32]:
    """The 256 µ-law code points decoded by libsndfile (float32, index = byte value)."""
    raw = io.BytesIO(bytes(range(256)))
    table, _ = sf.read(
        raw, format="RAW", subtype="ULAW", samplerate=TELEPHONE_RATE, channels=1, dtype="float32"
    )
    return np.asarray(table, dtype=np.float32)


def mulaw_decode(payload: bytes, rate: int = TELEPHONE_RATE) -> Audio:
    """G.711 µ-law bytes (one byte per sample) as audio at ``rate`` Hz."""
    codes = np.frombuffer(payload, dtype=np.uint8)
    return Audio(_mulaw_table()[codes], rate)


def mulaw_encode(audio: Audio, rate: int = TELEPHONE_RATE) -> bytes:
    """``audio`` resampled to ``rate`` Hz and encoded as G.711 µ-law bytes (libsndfile)."""
    buf = io.BytesIO()
    samples = np.clip(audio.at(rate).samples, -1.0, 1.0)
    sf.write(buf, samples, rate, format="RAW", subtype="ULAW")
    return buf.getvalue()


def frame_rms(samples: NDArray[np.float32], frame: int) -> NDArray[np.float32]:
    """The RMS of each whole frame of ``frame`` samples (a trailing part-frame is left out).

    Args:
        samples: mono audio samples.
        frame: samples per frame (at least 1).

    Returns:
        One value per frame, in ``samples``' units; empty for fewer samples than a frame.
    """
    frames = len(samples) // frame
    rms: NDArray[np.float32] = np.sqrt(np.mean(samples[:frames * frame].reshape(frames, frame) ** 2,
                                               axis=1))
    return rms


def pcm16(audio: Audio) -> bytes:
    """``audio`` as little-endian signed 16-bit PCM bytes."""
    return (np.clip(audio.samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
