"""How ``python -m bench.voice`` deals its questions between simultaneous callers."""

from __future__ import annotations

from bench import voice
from bench.voice import deal, load_questions, spread


def test_no_question_follows_a_handoff_inside_a_call():
    """A handoff question ends its call (the bot then waits for a person); before, four
    simultaneous callers each asked their whole share in one call, and the two questions
    dealt after a handoff were counted as "no reply"."""
    turns = [(intent, question, None) for intent, question in spread(load_questions(), 16)]
    callers = deal(turns, 4)  # type: ignore[arg-type]
    assert len(callers) == 4
    calls = [call for caller in callers for call in caller]
    assert sorted(q for call in calls for _, q, _ in call) == sorted(q for _, q, _ in turns)
    for call in calls:
        assert all(intent != "human_handoff" for intent, _, _ in call[:-1])
        assert len(call) <= voice.QUESTIONS_PER_CALL
    assert len(calls) > 4  # the shares holding a handoff question mid-way were split


def test_fewer_questions_than_callers_leave_no_empty_caller():
    turns = [("greet", "hi", None)]
    assert deal(turns, 4) == [[[("greet", "hi", None)]]]  # type: ignore[arg-type]


def _turn(at: float, text: str) -> dict:
    return {"timestamp": at, "metadata": {"voice": {"transcript": text}}}


def test_a_question_taken_as_two_turns_is_a_cut_off_even_when_both_come_after_it():
    """Questions at 10-12 s and 20-22 s.  The first is cut at its comma, but its slow
    transcript makes both turns' user events fall after the caller stopped speaking: before,
    only a user event inside the question counted, and the baseline's cut-offs under load
    were missed."""
    records = [{"end_wall": 12.0, "speech_s": 2.0}, {"end_wall": 22.0, "speech_s": 2.0}]
    voice.mark_cut_offs(records, [_turn(12.3, "Yes."), _turn(12.9, "That's right."),
                                  _turn(22.5, "Goodbye.")])
    assert [r["cut_off"] for r in records] == [True, False]
    assert records[0]["cut_heard"] == ["Yes.", "That's right."]
    voice.mark_cut_offs(records, [_turn(11.2, "Thanks."), _turn(12.4, "That's all."),
                                  _turn(22.5, "Goodbye.")])
    assert [r["cut_off"] for r in records] == [True, False]
    voice.mark_cut_offs(records, [_turn(12.4, "Yes, that's right."), _turn(22.5, "Bye.")])
    assert [r["cut_off"] for r in records] == [False, False]
