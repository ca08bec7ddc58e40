"""Recogniser slots: final transcripts go first, unwanted early ones are skipped."""

from __future__ import annotations

import threading
import time

from bot.config import ASR_WINDOW_S
from bot.speech.slots import EARLY, URGENT, PrioritySlots
from tests.speech.conftest import QUESTION, words


def _queued(slots: PrioritySlots, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(slots._waiting) < n:
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_an_urgent_waiter_goes_before_an_earlier_speculative_one():
    slots = PrioritySlots(1)
    order: list[str] = []

    def work(name: str, priority: int) -> None:
        with slots.hold(priority):
            order.append(name)

    with slots.hold(URGENT):
        early = threading.Thread(target=work, args=("early", EARLY))
        early.start()
        _queued(slots, 1)
        final = threading.Thread(target=work, args=("final", URGENT))
        final.start()
        _queued(slots, 2)
    early.join(10)
    final.join(10)
    assert order == ["final", "early"]


def test_work_nobody_wants_any_more_is_skipped():
    slots = PrioritySlots(1)
    with slots.hold(EARLY, wanted=lambda: False) as granted:
        assert granted is False
    with slots.hold(EARLY, wanted=lambda: True) as granted:
        assert granted is True


def test_a_pool_of_two_runs_two_at_once():
    slots = PrioritySlots(2)
    inside = threading.Barrier(2, timeout=10)

    def work() -> None:
        with slots.hold():
            inside.wait()  # both must be inside together, or the barrier times out

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert not inside.broken


def test_slots_count_their_holders():
    slots = PrioritySlots(2)
    assert slots.held == 0
    with slots.hold():
        assert slots.held == 1
        with slots.hold():
            assert slots.held == 2
    assert slots.held == 0


def test_a_transcription_alone_runs_on_two_threads_and_hears_the_same(question):
    """With 2 workers of 1 thread (2 CPUs' default), a transcription that runs alone uses
    the copy of the model with 2 threads; one beside another uses a worker of the shared
    model; both hear the question."""
    from bot.speech.asr import WhisperRecognizer

    recognizer = WhisperRecognizer(workers=2, threads=1, window_s=ASR_WINDOW_S,
                                   solo_threads=2)
    assert recognizer._solo is not None
    assert WhisperRecognizer(workers=2, threads=2, solo_threads=2)._solo is None
    with recognizer._slots.hold():
        assert recognizer._model_now() is recognizer._solo
        with recognizer._slots.hold():
            assert recognizer._model_now() is recognizer._model
    alone = recognizer.transcribe(question).text
    with recognizer._slots.hold():  # another transcription is running
        beside = recognizer.transcribe(question).text
    assert words(alone) == words(beside) == words(QUESTION)


def test_a_recogniser_skips_an_early_transcript_that_is_no_longer_wanted(engines, question):
    assert engines.recognizer.transcribe_early(question, lambda: False) is None
    heard = engines.recognizer.transcribe_early(question, lambda: True)
    assert heard is not None and heard.text


def test_the_sequential_pipeline_keeps_one_recogniser_worker(env):
    from bot.speech.asr import load_recognizer

    assert load_recognizer()._slots.size == 2
    env.set("TOUCHLINE_VOICE_PIPELINE", "sequential")
    assert load_recognizer()._slots.size == 1
