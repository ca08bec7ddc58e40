"""Silero endpointing on real speech: start, pause, resume, end of utterance, noise."""

from __future__ import annotations

import numpy as np
import pytest

from bot.speech.audio import (
    ASR_RATE,
    TELEPHONE_RATE,
    Audio,
    mulaw_decode,
    mulaw_encode,
    silence,
)
from bot.speech.vad import Endpointer, EndpointSettings
from tests.speech.conftest import say, trimmed


def run(
    endpointer: Endpointer, audio: Audio, step: int = 320
) -> list[tuple[float, str, Audio | None]]:
    """Feed ``audio`` in 20 ms pieces; return (stream seconds, event, audio) triples."""
    samples = audio.at(ASR_RATE).samples
    events = []
    for i in range(0, len(samples), step):
        for kind, cut in endpointer.feed(samples[i : i + step]):
            events.append((endpointer.heard_s, kind, cut))
    return events


def test_one_utterance_is_found_with_its_end(question):
    speech = trimmed(question)
    events = run(Endpointer(), silence(0.5).then(speech).then(silence(1.0)))
    assert [e[1] for e in events] == ["speech", "pause", "utterance"]
    (start, _, _), (_, _, early), (end, _, cut) = events
    # within 300 ms of the first sound (Piper's audio varies from run to run: measured
    # 120-220 ms, in 40 ms steps)
    assert 0.5 < start < 0.5 + 0.3
    speech_end = 0.5 + speech.seconds
    assert speech_end < end < speech_end + 0.65  # end-of-speech timeout 0.35 s + VAD lag
    pre_roll = EndpointSettings().pre_roll_s
    assert cut.seconds == pytest.approx(speech.seconds + pre_roll + (end - speech_end), abs=0.35)
    assert early.seconds < cut.seconds  # the early transcript's audio came first


def test_talking_again_after_a_pause_resumes_the_same_utterance(question):
    speech = trimmed(question)
    events = run(Endpointer(), speech.then(silence(0.25)).then(speech).then(silence(1.0)))
    kinds = [e[1] for e in events]
    assert kinds.count("utterance") == 1 and "resume" in kinds
    assert events[-1][2].seconds > 2 * speech.seconds


def test_silence_and_quiet_noise_are_not_speech():
    rng = np.random.default_rng(0)
    noise = Audio((0.003 * rng.standard_normal(3 * ASR_RATE)).astype(np.float32), ASR_RATE)
    assert run(Endpointer(), silence(3.0).then(noise)) == []


def test_endless_talk_is_cut_at_the_maximum(question):
    settings = EndpointSettings(max_utterance_s=2.0)
    speech = trimmed(question)
    long_talk = speech.then(speech).then(speech)
    kinds = [e[1] for e in run(Endpointer(settings), long_talk)]
    assert "utterance" in kinds


def _end_after_speech(question: Audio, complete: bool) -> float:
    """Seconds from the end of speech to the "utterance" event, calling
    ``words_complete`` at the pause when ``complete``."""
    settings = EndpointSettings(end_silence_s=0.75, complete_silence_s=0.2)
    endpointer = Endpointer(settings)
    speech = trimmed(question)
    samples = speech.then(silence(1.5)).at(ASR_RATE).samples
    for i in range(0, len(samples), 320):
        for kind, _ in endpointer.feed(samples[i : i + 320]):
            if kind == "pause" and complete:
                endpointer.words_complete()
            if kind == "utterance":
                return endpointer.heard_s - speech.seconds
    raise AssertionError("no end of utterance")


def test_a_complete_request_ends_the_turn_sooner_than_a_phrase_stopped_midway(question):
    complete = _end_after_speech(question, complete=True)
    unsure = _end_after_speech(question, complete=False)
    assert 0.2 <= complete < 0.2 + 0.3
    assert 0.75 <= unsure < 0.75 + 0.3


def test_talking_again_forgets_that_the_words_were_complete(question):
    settings = EndpointSettings(end_silence_s=0.75, complete_silence_s=0.4)
    endpointer = Endpointer(settings)
    speech = trimmed(question)
    # 0.2 s gap: a pause (0.128 s) but no end even with the shorter window; after the
    # resume, 0.55 s of silence ends the utterance only if the shorter window still held.
    audio = speech.then(silence(0.2)).then(speech).then(silence(0.55))
    samples = audio.at(ASR_RATE).samples
    kinds = []
    for i in range(0, len(samples), 320):
        for kind, _ in endpointer.feed(samples[i : i + 320]):
            kinds.append(kind)
            if kind == "pause" and kinds.count("pause") == 1:
                endpointer.words_complete()  # the first pause only
    assert "resume" in kinds and "utterance" not in kinds, kinds


def test_the_silence_counted_inside_an_utterance_is_reported_until_it_ends(question):
    speech = trimmed(question)
    endpointer = Endpointer(EndpointSettings(end_silence_s=0.6))
    samples = speech.then(silence(0.4)).then(speech).then(silence(1.0)).at(ASR_RATE).samples
    seen, ended = [], False
    for i in range(0, len(samples), 320):
        events = endpointer.feed(samples[i : i + 320])
        ended = ended or any(kind == "utterance" for kind, _ in events)
        seen.append((endpointer.heard_s, endpointer.silent_s, ended))
    gap = [s for t, s, _ in seen if speech.seconds < t < speech.seconds + 0.6]
    # the 0.4 s gap less the VAD's lag after speech, in 32 ms windows (measured 0.416)
    assert 0.2 <= max(gap) <= 0.4 + 0.04
    assert max(s for _, s, ended in seen if not ended) < 0.6 + 0.04  # at most the window
    assert all(s == 0.0 for _, s, ended in seen if ended)  # no utterance open afterwards


@pytest.mark.parametrize("quiet_s", [20.0, 60.0])
def test_speech_after_a_long_quiet_line_is_heard_from_its_first_word(question, quiet_s):
    """A caller who listened to a long reply in silence: Silero's recurrent state drifts
    over the quiet and found speech up to a second late, cutting the first words, until
    the stream went back to the state kept just after the caller last spoke."""
    speech = trimmed(question)

    def second(quiet: float) -> tuple[float, Audio]:
        """When the second utterance was found (after its first sound) and its audio."""
        events = run(Endpointer(), speech.then(silence(quiet)).then(speech).then(silence(1)))
        [_, (start, _, _)] = [e for e in events if e[1] == "speech"]
        [_, (_, _, cut)] = [e for e in events if e[1] == "utterance"]
        return start - speech.seconds - quiet, cut

    soon, _ = second(1.0)
    late, cut = second(quiet_s)
    assert late < soon + 0.1, (soon, late)
    assert cut.seconds > speech.seconds + EndpointSettings().pre_roll_s


def test_a_first_utterance_just_after_the_quiet_line_state_is_restored_is_heard(engines):
    """Before the caller's first words the stream went back every second to Silero's
    initial state, which has heard nothing, and an utterance starting just then was heard
    late or never (over the phone's 8 kHz µ-law: 10 of 240 such starts were missed).  It
    now goes back to the state after 0.5 s of the line's quiet."""
    renders = [trimmed(say(engines, text)) for text in ("Good morning.", "No thanks.")
               for _ in range(3)]
    late = []
    for speech in renders:
        for lead in (1.0 + 0.008 * i for i in range(10)):  # the first restore, at 1.024 s
            line = silence(lead).then(speech).then(silence(1.0))
            events = run(Endpointer(), mulaw_decode(mulaw_encode(line, TELEPHONE_RATE)))
            starts = [t for t, kind, _ in events if kind == "speech"]
            assert [kind for _, kind, _ in events].count("utterance") == 1, (lead, events)
            late.append(starts[0] - lead)
    # found in time for the pre-roll to keep the first sound, but for one at most
    settings = EndpointSettings()
    assert sum(x > settings.pre_roll_s + settings.start_s for x in late) <= 1, sorted(late)
