"""Small-data regression: a new shop's few examples, no out-of-scope data, open traffic.

The shape of the issue's benchmark, built from Touchline's own ``data/nlu``: ten examples
of each in-scope intent but five are the training data (no ``out_of_scope`` example); the
test holds the other examples of the trained intents, every example of the five left-out
intents and every ``out_of_scope`` example, so over 40% of it fits no trained intent. A
real Rasa model (``train_nlu`` with ``config.yml``'s pipeline, spaCy parts removed) parses
each test message; a message counts as right when a trained intent gets its own intent and
anything else falls back (``nlu_fallback`` or ``out_of_scope``).
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict

import pytest
import yaml
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

from bench.open_intent import add_story
from tests.nlu.conftest import ROOT, write_config

LEFT_OUT = ("kick_stats", "bot_challenge", "goodbye", "discount_code", "thank")
SHOTS = 10
OVERALL_FLOOR = 0.80
"""Overall accuracy floor. Measured 2026-12-05 on 1,502 messages (43% open): 0.838 with
``config.yml`` (in-scope 705/853, open 553/649); after data/nlu grew, on 1,560 messages
with the SpellingCorrector: 0.837 (734/911, 572/649). The former rule (0.2-point in-scope
budget, probability alone) gave 0.617 (801/853, 125/649), falling back on 19% of what fit
no trained intent."""
STORY_FLOOR = 0.66
"""Overall accuracy floor of the story copies. Measured 2026-12-05: 0.732 with sentence
scoring (:mod:`bot.nlu.segments`, power 1.5; 0.719 with power 1), 0.656 without it (the
same messages clean: 0.838 and 0.837). After ``stop_reminders`` joined ``data/nlu`` (one
more trained intent; 1,616 messages): 0.635 with sentence scoring, 0.669 without it, clean
0.838 (in-scope 414/967 with sentence scoring, 492/967 without; clean 785/967). Cause
(README, NLU section): cross-validation on the 100 training rows moved the similarity
weight from 0 to 1, and the best sentence replaced the whole message whenever it scored
higher *before* being raised to the power 1.5, so a long message often ended up with a
lower score than reading it whole. Since 2026-12-06 the raised score must beat the whole
message's (:func:`bot.nlu.neighbours.best_reading`): 0.698 (in-scope 540/967, open
588/649), clean 0.840 (789/967, 569/649). The power, chosen again under that rule on
CLINC150's validation split (``python -m bench.sentence_power``), stayed 1.5; with 1.25
(best on the full-data validation cells alone) this test gave 0.735 (607/967, 580/649)."""


def _split() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    by_intent: dict[str, list[str]] = defaultdict(list)
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for example in RasaYAMLReader().read(path).intent_examples:
            by_intent[str(example.get("intent"))].append(str(example.get("text")))
    rng = random.Random(0)
    train, test = [], []
    for intent in sorted(by_intent):
        texts = by_intent[intent][:]
        rng.shuffle(texts)
        if intent in LEFT_OUT or intent == "out_of_scope":
            test += [(t, "open") for t in texts]
        else:
            train += [(t, intent) for t in texts[:SHOTS]]
            test += [(t, intent) for t in texts[SHOTS:]]
    return train, test


@pytest.fixture(scope="module")
def few_shot_agent(tmp_path_factory):  # noqa: ANN201 (rasa Agent)
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    work = tmp_path_factory.mktemp("few_shot")
    train, _ = _split()
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in train:
        by_intent[intent].append(text)
    nlu = [
        {"intent": i, "examples": "".join(f"- {t}\n" for t in texts)}
        for i, texts in by_intent.items()
    ]
    (work / "nlu.yml").write_text(yaml.safe_dump({"version": "3.1", "nlu": nlu}))
    config = yaml.safe_load((ROOT / "config.yml").read_text())
    pipeline = [
        c for c in config["pipeline"] if "Spacy" not in c["name"] and "CRF" not in c["name"]
    ]
    pipeline.insert(0, {"name": "WhitespaceTokenizer"})
    model = train_nlu(
        str(write_config(work / "config.yml", pipeline)), str(work / "nlu.yml"), str(work)
    )
    return Agent.load(model)


def _score(agent, test: list[tuple[str, str]]) -> dict[str, list[int]]:  # noqa: ANN001
    """Right and total counts of in-scope and open test messages parsed by ``agent``."""
    loop = asyncio.new_event_loop()
    right = {"in": [0, 0], "open": [0, 0]}
    for text, label in test:
        name = loop.run_until_complete(agent.parse_message(text))["intent"]["name"]
        kind = "open" if label == "open" else "in"
        fell_back = name in {"nlu_fallback", "out_of_scope"}
        right[kind][0] += fell_back if kind == "open" else name == label
        right[kind][1] += 1
    loop.close()
    return right


def _overall(right: dict[str, list[int]]) -> float:
    return (right["in"][0] + right["open"][0]) / (right["in"][1] + right["open"][1])


def test_few_examples_and_open_traffic_keep_a_floor(few_shot_agent):
    _, test = _split()
    assert not {label for _, label in test} & {*LEFT_OUT, "out_of_scope"}
    right = _score(few_shot_agent, test)
    open_share = right["open"][1] / (right["in"][1] + right["open"][1])
    assert open_share > 0.4  # open traffic, as a new shop sees it
    print(f"few-shot overall {_overall(right):.3f}: {right}")
    assert _overall(right) >= OVERALL_FLOOR, right


def test_requests_told_inside_a_story_keep_a_floor(few_shot_agent):
    """The same test messages, each inside one to three context sentences
    (:func:`bench.open_intent.add_story`; the open ones too)."""
    _, test = _split()
    rng = random.Random(0)
    right = _score(few_shot_agent, [(add_story(text, rng), label) for text, label in test])
    print(f"few-shot in a story {_overall(right):.3f}: {right}")
    assert _overall(right) >= STORY_FLOOR, right


def test_training_rows_hold_no_left_out_or_out_of_scope_intent():
    train, test = _split()
    assert {intent for _, intent in train}.isdisjoint({*LEFT_OUT, "out_of_scope"})
    assert not {text for text, _ in train} & {text for text, _ in test if _ == "open"}
