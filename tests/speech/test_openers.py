"""Prepared reply openings: a phone call synthesises the reply it expects ahead of time."""

from __future__ import annotations

from bot.speech import tts
from bot.speech.tts import EspeakSynthesizer
from tests.speech.conftest import words

TEXT = "Thanks for waiting. Which order was it?"


def test_a_prepared_opening_is_played_from_the_cache(engines):
    synthesizer = engines.synthesizer
    unprepared = [list(synthesizer.speak(TEXT)) for _ in range(2)]
    assert unprepared[0][0] is not unprepared[1][0]  # rendered each time
    synthesizer.prepare(TEXT)
    first, second = (list(synthesizer.speak(TEXT)) for _ in range(2))
    assert first[0] is second[0]  # the opening piece comes from the cache
    assert first[1] is not second[1]  # the rest is rendered as before
    assert len(first) == len(unprepared[0]) == 2
    # the same words (not the same length: Piper's timing varies by 10% or more between
    # renderings)
    assert words(engines.recognizer.transcribe(first[0]).text) == words(TEXT.split(".")[0])


def test_the_fallback_voice_prepares_openings_too():
    espeak = EspeakSynthesizer()
    espeak.prepare(TEXT)
    assert list(espeak.speak(TEXT))[0] is list(espeak.speak(TEXT))[0]
    espeak.prepare("   ")  # nothing to say: nothing prepared, no error


def test_openings_prepared_to_keep_outlast_the_cache(monkeypatch):
    """An opening prepared with ``keep`` (the voice channel's at server start) stays when
    more than ``OPENERS`` others are prepared after it; one prepared without is pushed
    out, and preparing it again to keep reuses its audio."""
    monkeypatch.setattr(tts, "OPENERS", 2)
    espeak = EspeakSynthesizer()
    espeak.prepare("Here is what I found: one.", keep=True)
    espeak.prepare(TEXT)
    kept = list(espeak.speak("Here is what I found: two."))[0]
    cached = list(espeak.speak(TEXT))[0]
    for i in range(3):
        espeak.prepare(f"Reply number {i}. More.")
    assert list(espeak.speak("Here is what I found: three."))[0] is kept
    assert list(espeak.speak(TEXT))[0] is not cached  # pushed out: rendered again
    espeak.prepare(TEXT)
    cached = list(espeak.speak(TEXT))[0]
    espeak.prepare(TEXT, keep=True)
    for i in range(3):
        espeak.prepare(f"Another reply {i}. More.")
    assert list(espeak.speak(TEXT))[0] is cached
