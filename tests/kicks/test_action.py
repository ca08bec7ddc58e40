import asyncio
import subprocess
import sys
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

import bot.kicks.predictor as predictor_module
from actions.kicks import CONTEXT_SLOT, KICK_SLOTS, ActionKickPrediction
from bot.api.routes import kicks
from bot.config import PROJECT_ROOT
from bot.kicks.predictor import KickModelMissing, KickPredictor
from bot.kicks.wording import APOLOGY, ASK_POSITION


def _run(slots):
    tracker = Tracker("u1", slots, {"text": "odds?"}, [], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionKickPrediction().run(dispatcher, tracker, {}))
    # the action clears the message's kick slots after every answer and keeps the kick
    # answered as the context of a follow-up
    assert events[:len(KICK_SLOTS)] == [SlotSet(name, None) for name in KICK_SLOTS]
    assert [e["name"] for e in events[len(KICK_SLOTS):]] == [CONTEXT_SLOT, "topic"]
    assert len(dispatcher.messages) == 1
    return dispatcher.messages[0]["text"]


def test_action_answers_from_slots(predictor, monkeypatch):
    monkeypatch.setattr(predictor_module, "_predictor", predictor)
    assert ActionKickPrediction().name() == "action_kick_prediction"
    text = _run(
        {"kicker": "Finn Albright", "distance_m": 35, "touchline_m": "20", "pitch_spot": None}
    )
    assert text.startswith("Finn Albright's chance from 35 m out") and "simulated" in text
    assert _run({"kicker": "Finn Albright"}) == ASK_POSITION
    assert "Sorry" in _run({"distance_m": {"weird": "dict"}})


def test_action_never_crashes_when_the_model_fails(nan_predictor, monkeypatch):
    monkeypatch.setattr(predictor_module, "_predictor", nan_predictor)
    assert _run({"distance_m": "30", "pitch_spot": "in_front"}) == APOLOGY
    monkeypatch.setattr(predictor_module, "_predictor", object())  # broken predictor
    assert _run({"distance_m": "30"}) == APOLOGY


@pytest.fixture
def untrained(db_url, tmp_path, env, monkeypatch):
    """A migrated shop database and an empty models folder: nothing trained."""
    models = tmp_path / "kick_models"
    env.set("TOUCHLINE_KICKS_MODELS", str(models))
    monkeypatch.setattr(predictor_module, "_predictor", None)
    return db_url, models


def test_loading_without_a_model_fails_fast_with_a_clear_message(untrained):
    url, models = untrained
    with pytest.raises(KickModelMissing, match="make run"):
        KickPredictor.load(database_url=url, models_root=models)


def test_loading_without_form_counts_fails_fast(untrained, trained):
    url, _ = untrained  # a model exists, but this database's form store is empty
    with pytest.raises(KickModelMissing, match="form store"):
        KickPredictor.load(database_url=url, models_root=trained[2])


def test_action_without_a_model_apologises_and_trains_nothing(untrained):
    _, models = untrained
    start = time.monotonic()
    assert _run({"distance_m": "30", "pitch_spot": "in_front"}) == APOLOGY
    assert time.monotonic() - start < 5
    assert not (models / "LATEST").exists()


def test_api_without_a_model_is_a_json_503(untrained):
    api = FastAPI()
    api.include_router(kicks.router)
    with TestClient(api) as client:
        r = client.post("/kicks/predict", json={"x_m": 40, "y_m": 20})
    assert r.status_code == 503 and r.json()["detail"]["error"] == "model_missing"


def test_serving_does_not_import_the_trainer():
    probe = (
        "import sys, actions.kicks, bot.api.routes.kicks\n"
        "heavy = {'bot.kicks.train', 'bot.kicks.tuning', 'bot.kicks.simulate', 'optuna'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def _say(text, slots):
    tracker = Tracker("u1", slots, {"text": text}, [], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionKickPrediction().run(dispatcher, tracker, {}))
    context = next(e["value"] for e in events if e["name"] == CONTEXT_SLOT)
    return dispatcher.messages[0]["text"], context


def test_a_follow_up_changes_only_what_it_names(predictor, monkeypatch):
    monkeypatch.setattr(predictor_module, "_predictor", predictor)
    first, spot = _say("what are the chances from 35 metres out near the touchline?",
                       {"distance_m": "35", "kicker": "Finn Albright"})
    assert "from 35 m out, 5 m in from touch" in first and "assumed" not in first
    front, spot = _say("and from in front of the posts?", {"last_kick": spot, "topic": "kicks"})
    assert front.startswith("Finn Albright's chance from 35 m out in front of the posts")
    farther, _ = _say("what about from 40 metres", {"last_kick": spot, "topic": "kicks"})
    assert "from 40 m out in front of the posts" in farther
    fresh, _ = _say("odds from 30 metres in front of the posts?",
                    {"last_kick": spot, "distance_m": "30", "pitch_spot": ["in_front"]})
    assert "Finn Albright" not in fresh  # a whole new question starts fresh
