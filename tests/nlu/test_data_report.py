"""``python -m bot.nlu.data_report``: what staff can act on in their own NLU data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from bot.nlu import data_report
from tests.nlu.conftest import FIXTURES, ROOT

MISLABELLED = "my card payment was declined twice at checkout"


def test_report_on_a_shop_folder_finds_the_mislabelled_example(tmp_path: Path, capsys):
    data = tmp_path / "nlu"
    data.mkdir()
    shutil.copy(FIXTURES / "nlu.yml", data / "nlu.yml")
    staff = {"version": "3.1", "nlu": [{"intent": "greet", "examples": f"- {MISLABELLED}\n"}]}
    (data / "staff_greet.yml").write_text(yaml.safe_dump(staff))
    out = tmp_path / "report.json"

    data_report.main([str(data), "--config", str(ROOT / "config.yml"), "--json", str(out)])

    report = json.loads(out.read_text())
    intents = {s["intent"]: s for s in report["intents"]}
    assert set(intents) == {
        "greet", "thank", "order_status", "payment_issue", "product_search", "out_of_scope"
    }
    assert all(0.0 <= s["precision"] <= 1.0 and 0.0 <= s["recall"] <= 1.0 for s in intents.values())
    suspects = {s["text"]: s for s in report["suspects"]}
    assert suspects[MISLABELLED]["labelled"] == "greet"
    assert suspects[MISLABELLED]["predicted"] == "payment_issue"
    estimate = report["oos_estimate"]
    assert estimate["simulated_oos"] is False  # the fixture has out-of-scope examples
    assert 0.0 <= estimate["cv_oos_recall"] <= 1.0
    printed = capsys.readouterr().out
    assert "examples that look mislabelled" in printed and MISLABELLED in printed


def test_without_out_of_scope_examples_recall_is_estimated_by_leaving_intents_out(tmp_path):
    shutil.copy(FIXTURES / "nlu.yml", tmp_path / "nlu.yml")
    rows = [r for r in data_report.load_examples(tmp_path) if r[1] != "out_of_scope"]
    settings = data_report.classifier_settings(ROOT / "config.yml")
    report = data_report.build_report(rows, settings, folds=3, suspect=0.7)
    assert report.oos_estimate["simulated_oos"] is True
    assert report.oos_estimate["cv_oos_recall"] > 0.3
    assert len(report.intents) == 5
