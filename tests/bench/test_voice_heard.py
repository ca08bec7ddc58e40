"""``python -m bench.voice_heard``: both call pipelines hear a question as the gateway would."""

from __future__ import annotations

import pytest

from bench.voice import normalise, synthesise, trim
from bench.voice_heard import hear
from bot.speech.asr import load_recognizer
from bot.speech.audio import Audio, silence
from bot.speech.tts import PiperSynthesizer
from bot.speech.turn_end import complete_request


@pytest.fixture(scope="module")
def stopped_mid_phrase() -> Audio:
    """ "My order number is" and, after 0.55 s of silence, "TL 10001.", as Piper says them."""
    piper = PiperSynthesizer()
    first = trim(synthesise(piper, "My order number is")[0])
    return first.then(silence(0.55, first.rate)).then(trim(synthesise(piper, "TL 10001.")[0]))


def test_the_fixed_window_cuts_a_caller_who_stops_mid_phrase_and_the_adaptive_one_waits(
        stopped_mid_phrase: Audio) -> None:
    """The sequential pipeline ends every turn after 0.35 s of silence, so the pause after
    "is" makes two turns, a false cut-off.  The speculative one never ends a turn sooner,
    and waits 0.75 s unless the pause's early transcript reads as a complete request (Piper
    and tiny.en sometimes make "is" "8.", which does)."""
    fixed = hear(stopped_mid_phrase, 1.0, "sequential", load_recognizer("whisper", "sequential"))
    assert fixed.cut_off and len(fixed.turns) == 2 and fixed.end_ms is not None
    assert normalise(fixed.turns[0])[:3] == ["my", "order", "number"]
    adaptive = hear(stopped_mid_phrase, 1.0, "speculative",
                    load_recognizer("whisper", "speculative"))
    assert adaptive.end_ms is not None and adaptive.end_ms >= fixed.end_ms
    assert len(adaptive.asr_ms) == 2  # the pause after "is" and the one at the end
    if adaptive.cut_off:  # only at a pause whose transcript read as complete
        assert len(adaptive.turns) == 2 and complete_request(adaptive.turns[0], understood=True)
    else:
        assert len(adaptive.turns) == 1 and adaptive.end_ms > 0
        assert len(normalise(adaptive.turns[0])) > 4  # the order id too
