"""The validation data that ``python -m bench.sentence_power`` chooses the power on
(:func:`bench.setfit_probe.validation_split` for CLINC150)."""

from __future__ import annotations

import json

from bench.nlu import SHARED, open_draws
from bench.open_intent import OPEN
from bench.setfit_probe import validation_split


def test_the_power_is_chosen_on_validation_rows_never_on_test_rows():
    data = json.loads((SHARED / "clinc150" / "data_full.json").read_text())
    test_rows = {tuple(r) for r in data["test"] + data["oos_test"]}
    validation_rows = [tuple(r) for r in data["val"] + data["oos_val"]]
    training_rows = {tuple(r) for r in data["train"]}
    assert not test_rows & (set(validation_rows) | training_rows)
    known = open_draws(["clinc150"], 1)["clinc150"]["0.25"][0]
    for shots in (None, 10):
        train, valid = validation_split("clinc150", known, shots, 0)
        assert set(train) <= training_rows
        assert {label for _, label in train} == set(known)
        assert len(train) == len(known) * (100 if shots is None else shots)
        # every validation row, in order, with unknown intents and out of scope as open
        assert [t for t, _ in valid] == [t for t, _ in validation_rows]
        assert [label for _, label in valid] == [
            label if label in known else OPEN for _, label in validation_rows]
