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
