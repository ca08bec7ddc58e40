"""A tiny Rasa project (three intents, a bag-of-words classifier) that trains in seconds:
the staff console's train-and-compare and promote run on it in tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from testing.stack import RASA

CONFIG = """recipe: default.v1
language: en
assistant_id: staff-test
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: LogisticRegressionClassifier
policies:
  - name: RulePolicy
"""
DOMAIN = """version: "3.1"
intents:
  - greet
  - order_status
responses:
  utter_greet:
    - text: "Hello!"
"""
RULES = """version: "3.1"
rules:
  - rule: Greet
    steps:
      - intent: greet
      - action: utter_greet
"""
NLU = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi there
    - good morning
    - hey
- intent: order_status
  examples: |
    - where is my order
    - my parcel has not arrived
    - track my order
    - when will my order come
"""
HELDOUT = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello there
    - morning
- intent: order_status
  examples: |
    - where is my parcel
    - order has not arrived
- intent: gift_cards
  examples: |
    - do you sell gift cards
    - gift card please
"""
"""Held-out messages: ``gift_cards`` is neither in the domain nor in the training data
until staff add it."""
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}


def make_project(root: Path, train: bool = True) -> Path:
    """Write the project under ``root`` (held-out file at ``tests/data/nlu_heldout.yml``,
    as in the real project) and train ``models/touchline.tar.gz`` unless ``train`` is off.

    Returns:
        The model file (it exists only when trained).
    """
    (root / "data" / "nlu").mkdir(parents=True)
    (root / "tests" / "data").mkdir(parents=True)
    (root / "config.yml").write_text(CONFIG)
    (root / "domain.yml").write_text(DOMAIN)
    (root / "data" / "rules.yml").write_text(RULES)
    (root / "data" / "nlu" / "base.yml").write_text(NLU)
    (root / "tests" / "data" / "nlu_heldout.yml").write_text(HELDOUT)
    if train:
        subprocess.run([RASA, "train", "--out", str(root / "models"), "--fixed-model-name",
                        "touchline"], cwd=root, env=ENV, check=True, capture_output=True)
    return root / "models" / "touchline.tar.gz"
