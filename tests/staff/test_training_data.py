"""Labels and new intents written as Rasa training data that Rasa itself reads back."""

from __future__ import annotations

import shutil

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.nlu.training_data.loading import load_data

from bot.config import PROJECT_ROOT
from bot.staff.training_data import (
    TrainingDataError,
    add_examples,
    add_intent,
    read_examples,
    review_file,
)


@pytest.fixture
def root(tmp_path):
    (tmp_path / "data").mkdir()
    shutil.copy(PROJECT_ROOT / "domain.yml", tmp_path / "domain.yml")
    shutil.copy(PROJECT_ROOT / "data" / "rules.yml", tmp_path / "data" / "rules.yml")
    return tmp_path


def test_labels_are_redacted_deduplicated_and_read_by_rasa(root):
    texts = ["my card 4111 1111 1111 1111 was charged twice",
             "mail me at jo@example.com about [this](order)",
             "  my card 4111 1111 1111 1111   was charged twice "]
    written = add_examples(root, "payment_issue", texts)
    assert len(written) == 2
    assert "4111" not in "".join(written) and "jo@example.com" not in "".join(written)
    assert add_examples(root, "payment_issue", texts[:1]) == []  # already there
    add_examples(root, "payment_issue", ["a third: #1 \"quoted\" 100%"])
    data = load_data(str(review_file(root, "payment_issue")))
    assert [m.get("intent") for m in data.intent_examples] == ["payment_issue"] * 3
    assert [m.get("text") for m in data.intent_examples] == read_examples(
        review_file(root, "payment_issue"))
    assert data.entity_examples == []  # brackets in a message are no annotation


@pytest.mark.parametrize("intent,text", [("Bad-Name", "hello"), ("../etc", "x"),
                                         ("ok_name", "   "), ("ok_name", "x" * 501)])
def test_bad_labels_are_refused_and_nothing_is_written(root, intent, text):
    with pytest.raises(TrainingDataError):
        add_examples(root, intent, [text])
    assert not (root / "data" / "nlu").exists()


def test_a_promoted_intent_joins_domain_and_rules(root):
    answer = 'We do not sell gift cards yet: "soon".'
    add_intent(root, "gift_cards", answer)
    domain = Domain.load(str(root / "domain.yml"))
    assert "gift_cards" in domain.intents
    assert domain.responses["utter_gift_cards"][0]["text"] == answer
    rules = yaml.safe_load((root / "data" / "rules.yml").read_text())["rules"]
    assert rules[0]["steps"] == [{"intent": "gift_cards"}, {"action": "utter_gift_cards"}]
    before = (root / "domain.yml").read_text()
    with pytest.raises(TrainingDataError):
        add_intent(root, "gift_cards", "again")
    with pytest.raises(TrainingDataError):
        add_intent(root, "greet", "hello")
    with pytest.raises(TrainingDataError):
        add_intent(root, "new_one", "  ")
    assert (root / "domain.yml").read_text() == before
