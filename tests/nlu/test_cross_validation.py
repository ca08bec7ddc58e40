"""``rasa test nlu --cross-validation`` runs with Touchline's components and writes its report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.nlu.conftest import FIXTURES, ROOT, write_config

PIPELINE = [
    {"name": "WhitespaceTokenizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "bot.nlu.featurizer.SentenceEmbeddingFeaturizer"},
    {"name": "bot.nlu.classifier.IntentClassifier", "cv_folds": 3},
    {"name": "FallbackClassifier", "threshold": 0.3},
]


def test_rasa_test_nlu_cross_validation_writes_report(tmp_path: Path):
    config = write_config(tmp_path / "config.yml", PIPELINE)
    out = tmp_path / "results"
    rasa = Path(sys.executable).parent / "rasa"
    proc = subprocess.run(
        [
            str(rasa),
            "test",
            "nlu",
            "--cross-validation",
            "--folds",
            "2",
            "--config",
            str(config),
            "--nlu",
            str(FIXTURES / "nlu.yml"),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "intent_report.json").read_text())
    assert report["weighted avg"]["f1-score"] > 0.6
    assert (out / "intent_confusion_matrix.png").stat().st_size > 0
