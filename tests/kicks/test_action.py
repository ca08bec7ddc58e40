from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

import bot.kicks.predictor as predictor_module
from actions.kicks import KICK_SLOTS, ActionKickPrediction
from bot.kicks.chat import APOLOGY, ASK_POSITION


def _run(slots):
    tracker = Tracker("u1", slots, {"text": "odds?"}, [], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    events = ActionKickPrediction().run(dispatcher, tracker, {})
    # the action clears the kick slots after every answer
    assert events == [SlotSet(name, None) for name in KICK_SLOTS]
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
