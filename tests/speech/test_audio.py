"""Audio containers and conversions: WAV, OGG/Opus, WebM, µ-law, resampling, bad input."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
import soundfile as sf

from bot.speech.audio import (
    Audio,
    AudioError,
    decode,
    encode,
    mulaw_decode,
    mulaw_encode,
    pcm16,
    silence,
)


def tone(seconds: float = 1.0, rate: int = 16000, hz: float = 440.0) -> Audio:
    t = np.arange(int(seconds * rate)) / rate
    return Audio((0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate)


def webm(audio: Audio) -> bytes:
    """``audio`` as WebM/Opus, what Chromium's MediaRecorder produces."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="webm") as out:
        stream = out.add_stream("libopus", rate=48000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(
            audio.at(48000).samples[None, :], format="flt", layout="mono"
        )
        frame.sample_rate = 48000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["wav", "ogg"])
def test_encode_then_decode_keeps_duration_and_sound(fmt):
    back = decode(encode(tone(), fmt))
    assert back.seconds == pytest.approx(1.0, abs=0.03)
    assert np.sqrt(np.mean(back.samples**2)) == pytest.approx(0.354, abs=0.04)  # 0.5 sine


def test_browser_webm_opus_decodes_at_16_khz():
    back = decode(webm(tone(1.5)))
    assert back.rate == 16000 and back.seconds == pytest.approx(1.5, abs=0.05)


def test_stereo_is_mixed_down():
    buf = io.BytesIO()
    left = tone().samples
    sf.write(buf, np.stack([left, -left * 0], axis=1), 16000, format="WAV")
    back = decode(buf.getvalue())
    assert back.samples.ndim == 1 and np.abs(back.samples).max() == pytest.approx(0.25, 0.01)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "no audio"),
        (b"not audio at all" * 20, "must be"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "must be"),
        (b"\x00" * 1000, "must be"),
    ],
)
def test_unreadable_audio_is_a_clear_error(data, message):
    with pytest.raises(AudioError, match=message):
        decode(data)


def test_nan_samples_are_refused():
    wav = io.BytesIO()
    sf.write(wav, np.full(16000, np.nan, dtype=np.float32), 16000, format="WAV", subtype="FLOAT")
    with pytest.raises(AudioError, match="not numbers"):
        decode(wav.getvalue())


def test_audio_longer_than_the_limit_is_refused():
    with pytest.raises(AudioError, match="longer than 2 seconds"):
        decode(encode(silence(3.0)), max_seconds=2.0)
    with pytest.raises(AudioError, match="longer than 1 seconds"):
        decode(webm(tone(2.0)), max_seconds=1.0)


def test_mulaw_round_trip_is_telephone_quality():
    original = tone(0.5, 8000)
    payload = mulaw_encode(original)
    assert len(payload) == 4000  # one byte per sample at 8 kHz
    back = mulaw_decode(payload)
    assert back.rate == 8000
    assert np.abs(back.samples - original.samples).max() < 0.02


def test_mulaw_encode_resamples_to_8_khz():
    assert len(mulaw_encode(tone(1.0, 22050))) == 8000


def test_resampling_keeps_the_duration():
    assert tone(1.0, 22050).at(16000).seconds == pytest.approx(1.0, abs=1e-3)
    audio = tone()
    assert audio.at(16000) is audio


def test_pcm16_and_unknown_format():
    assert len(pcm16(tone(0.1))) == 2 * 1600
    with pytest.raises(ValueError, match="unknown audio format"):
        encode(tone(), "mp3")  # type: ignore[arg-type]
