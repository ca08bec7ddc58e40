"""Rasa's own tooling on the project: `rasa data validate`, `rasa test`, and the held-out
accuracy of the trained model on real customer utterances it never saw."""

from __future__ import annotations

import subprocess
from collections import Counter

import pytest
import yaml

from bot.config import PROJECT_ROOT
from testing.stack import RASA

pytestmark = pytest.mark.slow
HELDOUT = PROJECT_ROOT / "tests" / "data" / "nlu_heldout.yml"


def heldout_examples() -> list[tuple[str, str]]:
    data = yaml.safe_load(HELDOUT.read_text())
    pairs = []
    for block in data["nlu"]:
        for line in block["examples"].splitlines():
            text = line.strip().removeprefix("- ").strip()
            if text:
                pairs.append((text, block["intent"]))
    return pairs


def test_rasa_data_validate_passes():
    result = subprocess.run(
        [RASA, "data", "validate"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_heldout_accuracy_on_real_utterances(stack):
    pairs = heldout_examples()
    assert len(pairs) >= 300
    wrong = Counter()
    for text, intent in pairs:
        predicted = stack.parse(text)["intent"]["name"]
        if predicted != intent and not (intent == "out_of_scope" and predicted == "nlu_fallback"):
            wrong[(intent, predicted)] += 1
    accuracy = 1 - sum(wrong.values()) / len(pairs)
    assert accuracy >= 0.85, (accuracy, wrong.most_common(10))


def test_rasa_test_stories_pass(model, tmp_path):
    result = subprocess.run(
        [
            RASA,
            "test",
            "core",
            "--stories",
            "tests/data/test_stories.yml",
            "--model",
            str(model),
            "--out",
            str(tmp_path),
            "--fail-on-prediction-errors",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "story_report.json").exists()
