"""``domain.yml``: what a form's free-text question may take as its answer."""

from __future__ import annotations

import yaml

from bot.config import PROJECT_ROOT

DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())


def free_text_mappings() -> list[tuple[str, dict]]:
    """``(slot, mapping)`` for every ``from_text`` mapping of the domain's slots."""
    return [(slot, mapping) for slot, spec in DOMAIN["slots"].items()
            for mapping in spec.get("mappings", []) if mapping["type"] == "from_text"]


def test_no_intent_from_outside_the_conversation_answers_a_question():
    """An intent sent by the shop (Rasa's ``EXTERNAL_`` convention: a cart reminder) must
    never fill the slot a form asked the customer for: each one is in every free-text
    mapping's ``not_intent``, so adding an external intent without that fails here."""
    external = [i for i in DOMAIN["intents"] if str(i).startswith("EXTERNAL_")]
    mappings = free_text_mappings()
    assert external and mappings
    for slot, mapping in mappings:
        missing = sorted(set(external) - set(mapping.get("not_intent", [])))
        assert not missing, f"{slot}'s from_text mapping takes {missing} as an answer"
