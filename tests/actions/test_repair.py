"""Forms that validate, misunderstandings in a row, and no internal names in replies."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.discounts import ValidateDiscountForm
from actions.orders import ValidateOrderStatusForm
from actions.repair import ActionMisunderstood
from actions.resume import ActionResumeRequest
from bot.support.repair import SLOT
from tests.actions.conftest import followup, run_action, slot, texts

INTERNAL = re.compile(r"/[a-z_]|nlu_fallback|utter_|action_|requested_slot|discount_code|"
                      r"order_email|order_id|pending_request", re.IGNORECASE)
FORMS = {
    "discount_form": (ValidateDiscountForm, "discount_code"),
    "order_status_form": (ValidateOrderStatusForm, "order_id"),
    "order_status_form (e-mail)": (ValidateOrderStatusForm, "order_email"),
}


def conversation(
    turns: list[tuple[str, str]], sender: str = "web-9", slots: dict[str, Any] | None = None,
    loop: str | None = None,
) -> Tracker:
    """A tracker whose user turns are ``(text, intent)``, each with its own message id."""
    events = []
    for n, (text, intent) in enumerate(turns):
        parse = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": []}
        events.append({"event": "user", "text": text, "parse_data": parse,
                       "message_id": f"m{n}"})
        events.append({"event": "action", "name": "action_listen"})
    active = {"name": loop} if loop else {}
    return Tracker(sender, slots or {}, parse, events[:-1], False, None, active, "action_listen")


def validate(form: str, tracker: Tracker) -> tuple[dict[str, Any], str]:
    validator, name = FORMS[form]
    dispatcher = CollectingDispatcher()
    value = tracker.latest_message["text"]
    out = getattr(validator(), f"validate_{name}")(value, dispatcher, tracker, {})
    return out, texts(dispatcher.messages)


@pytest.mark.parametrize("text", ["plok", "/nlu_fallback", "I have a discount code",
                                  "I HAVE A DISCOUNT CODE", "frank@example.com"])
def test_discount_form_takes_only_a_code(shop, text):
    out, said = validate("discount_form", conversation([(text, "nlu_fallback")]))
    assert out["discount_code"] is None and "requested_slot" not in out
    assert said and not INTERNAL.search(said) and text.upper() not in said


def test_discount_form_takes_the_offered_code_not_the_last_word(shop):
    out, _ = validate("discount_form", conversation([("code spring10 for my order", "x")]))
    assert out == {"discount_code": "SPRING10"}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_second_misunderstanding_in_a_form_stops_it_and_offers_a_person(shop, form):
    first = conversation([("blorp", "nlu_fallback")])
    out, _ = validate(form, first)
    second = conversation([("blorp", "nlu_fallback"), ("/nlu_fallback", "nlu_fallback")],
                          slots={SLOT: out[SLOT]})
    out, said = validate(form, second)
    assert out["requested_slot"] is None and out["pending_request"] == "offer_human"
    msgs, events = run_action(ActionResumeRequest(), conversation(
        [("x", "nlu_fallback")], slots={"pending_request": out["pending_request"]}))
    assert followup(events) == "utter_offer_human" and not INTERNAL.search(texts(msgs) + said)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_stop_leaves_the_form_politely(shop, form):
    out, _ = validate(form, conversation([("never mind", "deny")]))
    assert out["requested_slot"] is None and out["pending_request"] == "left"
    msgs, _ = run_action(ActionResumeRequest(), conversation(
        [("never mind", "deny")], slots={"pending_request": "left"}))
    assert msgs == [{"response": "utter_no_handoff", **{k: v for k, v in msgs[0].items()
                                                        if k != "response"}}]


def test_order_email_question_takes_an_e_mail_address_only(shop):
    out, _ = validate("order_status_form (e-mail)",
                      conversation([("it's Bob@Example.com thanks", "x")]))
    assert out == {"order_email": "Bob@Example.com"}
    out, said = validate("order_status_form (e-mail)", conversation([("TL-10003", "x")]))
    assert out["order_email"] is None and "looks like an order number" in said


def test_out_of_scope_then_not_understood_offers_a_person(shop):
    msgs, events = run_action(ActionMisunderstood(), conversation([("weather?", "out_of_scope")]))
    assert msgs[0]["response"] == "utter_out_of_scope" and followup(events) is None
    tracker = conversation([("weather?", "out_of_scope"), ("blorp", "nlu_fallback")],
                           slots={SLOT: slot(events, SLOT)}, loop="discount_form")
    msgs, events = run_action(ActionMisunderstood(), tracker)
    assert followup(events) == "utter_offer_human"
    assert {"event": "active_loop", "name": None} in [
        {k: e.get(k) for k in ("event", "name")} for e in events]


def test_a_turn_between_resets_the_streak(shop):
    _, events = run_action(ActionMisunderstood(), conversation([("blorp", "nlu_fallback")]))
    tracker = conversation([("blorp", "nlu_fallback"), ("hi", "greet"), ("blorp", "nlu_fallback")],
                           slots={SLOT: slot(events, SLOT)})
    msgs, events = run_action(ActionMisunderstood(), tracker)
    assert msgs[0]["response"] == "utter_rephrase" and followup(events) is None


def test_other_languages_hear_english_only(shop):
    msgs, _ = run_action(ActionMisunderstood(), conversation([("我的订单在哪里", "nlu_fallback")]))
    assert "only understand English" in texts(msgs)
