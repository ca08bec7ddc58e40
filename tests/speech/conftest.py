"""Speech test helpers and a synthesised customer question (engines: ``tests/conftest.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.speech.audio import Audio
from bot.speech.engines import SpeechEngines

QUESTION = "I have a problem with my payment."


def words(text: str) -> list[str]:
    """Lowercase words without punctuation, for comparing transcripts."""
    return "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower()).split()


def say(engines: SpeechEngines, text: str) -> Audio:
    """``text`` synthesised by the default voice, as one piece."""
    pieces = list(engines.synthesizer.speak(text))
    whole = pieces[0]
    for piece in pieces[1:]:
        whole = whole.then(piece)
    return whole


def trimmed(audio: Audio, level: float = 0.01) -> Audio:
    """``audio`` without leading and trailing near-silence."""
    loud = np.nonzero(np.abs(audio.samples) > level)[0]
    return Audio(audio.samples[loud[0] : loud[-1] + 1], audio.rate)


@pytest.fixture(scope="session")
def question(engines: SpeechEngines) -> Audio:
    return say(engines, QUESTION)
