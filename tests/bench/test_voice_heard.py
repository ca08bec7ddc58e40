"""``python -m bench.voice_heard``: both call pipelines hear a question as the gateway would."""

from __future__ import annotations

import pytest

from bench.voice import normalise, synthesise, trim
from bench.voice_heard import hear
from bot.speech.asr import load_recognizer
from bot.speech.audio import silence
from bot.speech.tts import PiperSynthesizer


@pytest.fixture(scope="module")
def stopped_mid_phrase():
    """ "My order number is" and, after 0.55 s of silence, "TL 10001.", as Piper says them."""
    piper = PiperSynthesizer()
    first = trim(synthesise(piper, "My order number is")[0])
    return first.then(silence(0.55, first.rate)).then(trim(synthesise(piper, "TL 10001.")[0]))


def test_the_fixed_window_cuts_a_caller_who_stops_mid_phrase_and_the_adaptive_one_waits(
        stopped_mid_phrase):
    """The sequential pipeline ends every turn after 0.35 s of silence, so the pause after
    "is" makes two turns, a false cut-off; the speculative one reads the early transcript
    as unfinished and waits 0.75 s, so the question is one turn."""
    fixed = hear(stopped_mid_phrase, 1.0, "sequential", load_recognizer("whisper", "sequential"))
    assert fixed.cut_off and len(fixed.turns) == 2
    assert "number" in fixed.turns[0].lower()
    adaptive = hear(stopped_mid_phrase, 1.0, "speculative",
                    load_recognizer("whisper", "speculative"))
    assert not adaptive.cut_off and len(adaptive.turns) == 1
    words = normalise(adaptive.turns[0])
    assert words[:4] == ["my", "order", "number", "is"] and len(words) > 4
    assert len(adaptive.asr_ms) == 2  # the pause after "is" and the one at the end
