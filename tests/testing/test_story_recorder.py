"""The conversation suite's recorder (testing/story_recorder.py): a tracker's events become
story steps that Rasa's story reader reads back as the same events, written into a suite
file without touching its names, comments or metadata. The recording against a real stack
is checked by tests/e2e/test_rasa_cli.py (``rasa test core`` on the recorded suite)."""

from __future__ import annotations

from pathlib import Path

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

from bot.config import PROJECT_ROOT
from testing import conversations, story_recorder

KNOWN = {"order_id", "payment_method"}


def test_entities_are_marked_up_without_overlaps_and_with_synonym_values():
    text = "pay TL-10003 by bank transfer"
    entities = [
        {"entity": "order_id", "start": 4, "end": 12, "value": "TL-10003"},
        {"entity": "payment_method", "start": 6, "end": 12, "value": "x"},  # overlaps
        {"entity": "payment_method", "start": 16, "end": 29, "value": "bank_transfer"},
        {"entity": "not_in_domain", "start": 0, "end": 3, "value": "pay"},
    ]
    assert story_recorder.annotate(text, entities, KNOWN) == (
        'pay [TL-10003](order_id) by [bank transfer]'
        '{"entity": "payment_method", "value": "bank_transfer"}')


def _events() -> list[dict]:
    user = UserUttered("where is TL-10003", {"name": "order_status", "confidence": 0.9},
                       [{"entity": "order_id", "start": 9, "end": 17, "value": "TL-10003"}])
    return [e.as_dict() for e in [
        ActionExecuted("action_session_start"), SessionStarted(),
        SlotSet("customer_id", 2),  # before the first user turn: not part of the story
        ActionExecuted("action_listen"), user,
        SlotSet("order_id", "TL-10003"),
        ActionExecuted("action_order_status", policy="RulePolicy", confidence=1.0),
        SlotSet("topic", "order"), SlotSet("last_order", {"number": "TL-10003"}),
        ActionExecuted("order_status_form", policy="followup_action", confidence=1.0),
        ActiveLoop("order_status_form"),
        ActionExecuted("action_listen", policy="followup_action", confidence=1.0),
    ]]


def test_a_tracker_becomes_steps_without_listens_with_follow_up_actions_marked():
    assert story_recorder.steps_from_tracker(_events(), KNOWN) == [
        {"user": "where is [TL-10003](order_id)", "intent": "order_status"},
        {"slot_was_set": [{"order_id": "TL-10003"}]},
        {"action": "action_order_status"},
        {"slot_was_set": [{"topic": "order"}, {"last_order": {"number": "TL-10003"}}]},
        {"action": "order_status_form", "followup": True},
        {"active_loop": "order_status_form"},
        {"action": "action_listen", "followup": True},
    ]


def test_rewritten_file_reads_back_as_the_recorded_story(tmp_path: Path):
    path = tmp_path / "suite.yml"
    path.write_text('# a comment\nversion: "3.1"\nstories:\n- story: one\n'
                    '  metadata: {expect: ["TL-10003"]}\n  steps:\n'
                    '  - user: where is TL-10003\n')
    steps = story_recorder.steps_from_tracker(_events(), KNOWN)
    story_recorder.rewrite(path, [steps])
    text = path.read_text()
    story_recorder.rewrite(path, [steps])  # recording again replaces, adds nothing
    assert path.read_text() == text
    assert text.startswith('# a comment\nversion: "3.1"\nstories:\n- story: one\n'
                           '  metadata: {expect: ["TL-10003"]}\n  steps:\n')
    [conversation] = conversations.load_file(path)
    assert [t for t, _ in conversation.turns] == ["where is TL-10003"]
    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    [story] = YAMLStoryReader(domain).read_from_file(str(path), skip_validation=True)
    events = [e for e in story.events if not isinstance(e, ActionExecuted)
              or e.action_name != "action_listen"]
    assert events[0].intent_name == "order_status"
    assert events[0].entities[0]["value"] == "TL-10003"
    assert "  - action: order_status_form  # FollowupAction" in text
    assert text.endswith("  # FollowupAction: action_listen\n")
    assert [type(e).__name__ for e in events[1:]] == [
        "SlotSet", "ActionExecuted", "SlotSet", "SlotSet", "ActionExecuted", "ActiveLoop"]
    assert events[4].value == {"number": "TL-10003"}
