"""The validation data that ``python -m bench.sentence_power`` chooses the power on."""

from __future__ import annotations

import json

from bench.nlu import SHARED
from bench.sentence_power import validation_rows


def test_the_power_is_chosen_on_validation_rows_never_on_test_rows():
    train, valid = validation_rows()
    data = json.loads((SHARED / "clinc150" / "data_full.json").read_text())
    test = {tuple(r) for r in data["test"] + data["oos_test"]}
    assert len(train) == 15_000 and len(valid) == 3_100
    assert sum(label == "oos" for _, label in valid) == 100
    assert not test & set(valid) and not test & set(train)
