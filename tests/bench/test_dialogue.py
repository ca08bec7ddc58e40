"""The conversation suite's loader and judge (testing/conversations.py) and the dialogue
benchmark's table (bench/dialogue.py); the REST runs are tests/e2e/test_conversations.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

from bench.dialogue import table
from bot.config import PROJECT_ROOT
from testing import conversations


def test_the_suite_files_are_rasa_test_stories():
    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    stories = [step for path in sorted(conversations.SUITE.glob("*.yml"))
               for step in YAMLStoryReader(domain).read_from_file(str(path))]
    suite = conversations.load()
    assert len(stories) == len(suite) >= 80
    users = [[e.text for e in s.events if isinstance(e, UserUttered)] for s in stories]
    assert users == [[text for text, _ in c.turns] for c in suite]


def test_every_flow_is_in_the_suite():
    texts = " ".join(text for c in conversations.load() for text, _ in c.turns).lower()
    for words in ("order", "payment", "cart", "code", "show me", "metres", "person",
                  "start over", "no, i meant", "not that one", "the second one"):
        assert words in texts, words


def test_expectations_judge_replies():
    has = conversations._expectation("TL-10003 is delayed")
    assert has.met("Your order TL-10003 is delayed with UPS.") and not has.met("Sorry.")
    both = conversations._expectation({"has": "PayPal", "lacks": "declined"})
    assert both.met("You can pay with PayPal.")
    assert not both.met("Your payment was declined. You can pay with PayPal.")


def test_a_story_needs_one_expectation_per_turn_and_quoted_texts(tmp_path: Path):
    bad = tmp_path / "bad.yml"
    bad.write_text('stories:\n- story: x\n  metadata: {expect: ["a"]}\n  steps:\n'
                   '  - user: hi\n  - user: there\n')
    with pytest.raises(ValueError, match="2 user steps and 1 expectations"):
        conversations.load(tmp_path)
    bad.write_text('stories:\n- story: x\n  metadata: {expect: ["a"]}\n  steps:\n'
                   '  - user: no\n')
    with pytest.raises(ValueError, match="quote"):
        conversations.load(tmp_path)


def test_a_conversation_is_judged_turn_by_turn():
    conversation = conversations.load()[0]
    replies = iter([[{"text": "Sorry, I didn't quite get that. Could you say it another way?"}]]
                   + [[{"text": "nothing useful"}]] * 10)
    outcome = conversations.run(lambda sender, text, customer: next(replies), conversation,
                                "s")
    assert not outcome.success and outcome.fallbacks == 1 and outcome.handoffs == 0
    assert outcome.turns == len(conversation.turns)


def test_table_has_a_row_per_system():
    result = {"conversations": 85, "task_success": 0.98, "turns_to_success": 2.1,
              "fallback_rate": 0.01, "handoff_rate": 0.1}
    printed = table({"touchline": result, "ted": {**result, "turns_to_success": None}})
    assert "touchline" in printed and "98.0%" in printed and "ted" in printed


def test_a_reply_that_also_falls_back_does_not_count():
    wanted = conversations._expectation("try again")
    assert wanted.met("Yes, you can try again.")
    assert not wanted.met("Yes, you can try again.\nSorry, I'm not sure how to help with "
                          "that. Could you rephrase, or ask for a person?")
    asked_for = conversations._expectation("another way|outside what I can help")
    assert asked_for.met("Sorry, I didn't quite get that. Could you say it another way?")


def test_an_expectation_may_allow_a_fallback():
    offer = conversations._expectation({"has": "connect you with a person", "fallback": True})
    assert offer.met("Sorry, that's outside what I can help with. I can check an order, sort "
                     "out your cart, explain a payment problem, apply a discount code, find "
                     "products, or give rugby goal-kick odds, and I can hand you over to a "
                     "person.\\nWould you like me to connect you with a person?")
