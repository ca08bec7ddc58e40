import json

import numpy as np

from bot.kicks import artifact
from bot.kicks.events import write_events
from bot.kicks.features import FEATURES
from bot.kicks.simulate import simulate
from bot.kicks.train import main


def test_artifact_and_metadata(trained):
    result, _, root = trained
    assert artifact.latest_version(root) == result.version
    pipeline, meta = artifact.load(root=root)
    assert meta["version"] == result.version and meta["trained_at"]
    assert meta["features"]["numeric"] + meta["features"]["categorical"] == list(FEATURES)
    assert len(meta["data_hash"]) == 64 and meta["data"]["simulated"] is True
    assert meta["cv"]["folds"] == 3 and len(meta["cv"]["fold_aucs"]) == 3
    assert meta["metrics"]["test_seasons"] == [2018, 2019]
    assert set(meta["metrics"]["test"]) == {
        "xgboost",
        "logistic_regression",
        "random_forest",
        "oracle",
    }
    assert pipeline.steps[0][0] == "features" and type(pipeline.steps[0][1]).__name__ == (
        "ColumnTransformer"
    )
    assert pipeline.named_steps["model"].get_params()["objective"] == "binary:logistic"


def test_held_out_scores_close_to_the_oracle(trained):
    test = trained[0].metadata["metrics"]["test"]
    assert test["xgboost"]["auc"] >= test["oracle"]["auc"] - 0.03
    assert test["xgboost"]["brier"] <= test["oracle"]["brier"] + 0.01
    for name in ("xgboost", "logistic_regression", "random_forest"):
        assert test[name]["auc"] <= test["oracle"]["auc"] + 0.01  # nobody beats the truth


def test_train_and_update_cli(tmp_path, capsys):
    events = simulate(3000, seed=5).events
    old = [e for e in events if e["season"] < 2019]
    new = [e for e in events if e["season"] == 2019]
    url, root = f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "models"
    common = ["--database-url", url, "--models-dir", str(root)]
    write_events(old, tmp_path / "old.jsonl")
    write_events(new, tmp_path / "new.jsonl")
    assert (
        main(["--events", str(tmp_path / "old.jsonl"), "--trials", "1", "--folds", "3", *common])
        == 0
    )
    first = artifact.latest_version(root)
    assert main(["--update", str(tmp_path / "new.jsonl"), *common]) == 0
    out = capsys.readouterr().out
    assert "counted" in out and "new model version" in out
    second = artifact.latest_version(root)
    assert second != first
    pipeline, meta = artifact.load(root=root)
    assert meta["parent_version"] == first
    update = meta["updates"][-1]
    assert update["counted"] == sum(e["event_type"] == "place_kick" for e in new)
    assert update["scores_before_on_new_kicks"]["n"] == update["counted"]
    booster = pipeline.named_steps["model"].get_booster()
    assert (
        booster.num_boosted_rounds()
        == json.loads((root / first / "metadata.json").read_text())["params"]["n_estimators"]
        + update["rounds_added"]
    )
    # running the same update again counts nothing
    assert main(["--update", str(tmp_path / "new.jsonl"), *common]) == 0
    assert "no new kicks" in capsys.readouterr().out
    assert np.isfinite(pipeline.predict_proba(_one_row())).all()


def _one_row():
    from bot.kicks.features import feature_row
    from bot.kicks.form import FormRates

    row = feature_row(
        distance_m=30.0,
        angle_deg=10.0,
        zone="22-35m/central",
        kick_type="penalty",
        home=True,
        score_diff=0,
        period=1,
        minute=20,
        competition="Northern Cup",
        form=FormRates(0.75, 0.75, 0.75, 0, False),
    )
    X = np.empty((1, len(FEATURES)), dtype=object)
    X[0] = row
    return X
