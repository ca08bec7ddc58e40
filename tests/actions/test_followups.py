"""Follow-ups inside a topic (issue #13), run as the action server runs the actions, on
the seeded shop: each reads the conversation's context and changes only what changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

import actions.kicks  # noqa: F401  (the action server imports every action module)
import actions.search  # noqa: F401
from actions.base import TOPIC_ACTIONS
from actions.cart import ActionCartIssue
from actions.discounts import ActionApplyDiscount
from actions.handoff import ActionTakeoverCheck
from actions.orders import ActionOrderStatus
from actions.payments import ActionPaymentIssue
from actions.repair import ActionMisunderstood, ActionRestart, ActionStrayReply
from bot.store.db import session_scope
from bot.store.models import CartItem, Ticket
from tests.actions.conftest import followup, make_tracker, run_action, texts


def _turn(action, text: str, intent: str, customer: str | None, slots: dict[str, Any],
          entities: list[dict[str, Any]] | None = None) -> tuple[str, dict[str, Any], list]:
    """One turn: run ``action`` on ``text`` with ``slots``; returns the reply, the slots
    after it and the events."""
    tracker = make_tracker(text=text, intent=intent, slots=dict(slots), customer=customer)
    if entities:
        tracker.latest_message["entities"] = entities
    messages, events = run_action(action, tracker)
    after = dict(slots)
    after.update({e["name"]: e["value"] for e in events if e.get("event") == "slot"})
    return texts(messages), after, events


def test_every_topic_has_its_action():
    assert set(TOPIC_ACTIONS) == {"order", "payment", "cart", "discount", "search", "kicks"}


def test_payment_follow_ups_answer_from_the_payment_not_the_decline_again(shop):
    first, slots, _ = _turn(ActionPaymentIssue(), "my card keeps getting declined",
                            "payment_issue", "bob", {})
    assert "$74.98" in first and "not enough funds" in first
    methods, slots, _ = _turn(ActionPaymentIssue(), "what payment methods do you take?",
                              "payment_issue", "bob", slots)
    assert "Klarna" in methods and "PayPal" in methods and "declined" not in methods
    klarna, slots, _ = _turn(ActionMisunderstood(), "can I pay with klarna?", "out_of_scope",
                             "bob", slots)
    assert klarna.startswith("Yes, you can pay with Klarna")
    retry, slots, _ = _turn(ActionPaymentIssue(), "can I retry?", "payment_issue", "bob",
                            slots)
    assert "try again" in retry and "$74.98 wasn't taken" in retry
    twice, slots, _ = _turn(ActionPaymentIssue(), "will I be charged twice?", "payment_issue",
                            "bob", slots)
    assert twice.startswith("No.") and "ticket" not in twice
    with session_scope() as s:
        assert s.scalars(select(Ticket)).first() is None


def test_klarna_in_a_country_without_it(shop):
    _, slots, _ = _turn(ActionPaymentIssue(), "why was my payment declined", "payment_issue",
                        "emma", {})
    reply, _, _ = _turn(ActionPaymentIssue(), "so can I pay with Klarna or not?",
                        "payment_issue", "emma", slots)
    assert "Klarna isn't offered in your country" in reply and "PayPal" in reply


def test_order_follow_ups_use_the_order_in_context(shop):
    first, slots, _ = _turn(ActionOrderStatus(), "my order hasn't arrived yet, it's TL-10003",
                            "order_status", "bob", {"order_id": "TL-10003"})
    assert "delayed with UPS" in first
    late, slots, _ = _turn(ActionMisunderstood(), "why is it late?", "out_of_scope", "bob",
                           slots)
    assert "UPS" in late and "TL-10003" in late and "1Z999AA10123456784" in late
    address, slots, events = _turn(ActionOrderStatus(), "can I change the address?",
                                   "order_status", "bob", slots)
    assert "already with UPS" in address and followup(events) == "utter_offer_human"
    cancel, slots, events = _turn(ActionMisunderstood(), "cancel it", "nlu_fallback", "bob",
                                  slots)
    assert "can't be cancelled now" in cancel and followup(events) == "utter_offer_human"


def test_correction_looks_up_the_other_order(shop):
    _, slots, _ = _turn(ActionOrderStatus(), "where is TL-10003", "order_status", "chloe",
                        {"order_id": "TL-10003"})
    reply, slots, _ = _turn(ActionStrayReply(), "no, I meant TL-10004", "deny", "chloe", slots)
    assert "TL-10004 is being prepared" in reply
    assert slots["last_order"]["number"] == "TL-10004"


def test_not_that_one_lists_the_other_orders(shop):
    _, slots, _ = _turn(ActionOrderStatus(), "where's TL-10001", "order_status", "alice",
                        {"order_id": "TL-10001"})
    reply, _, _ = _turn(ActionMisunderstood(), "not that one", "out_of_scope", "alice", slots)
    assert "TL-10002 was delivered" in reply and "TL-10001" not in reply


def test_cart_line_named_by_its_old_price(shop):
    first, slots, _ = _turn(ActionCartIssue(), "my cart shows the wrong total", "cart_issue",
                            "chloe", {})
    assert "corrected the price of Powder Canister" in first
    reply, slots, _ = _turn(ActionApplyDiscount(),
                            "it says 24.99 for the face wash but the site says less",
                            "discount_code", "chloe", slots)
    assert "Powder Canister was in your cart at $24.99" in reply and "$14.99" in reply
    assert "$40.97" in reply and "discount code" not in reply


def test_cart_remove_and_quantity(shop):
    _, slots, _ = _turn(ActionCartIssue(), "something is wrong with my basket", "cart_issue",
                        "alice", {})
    more, slots, _ = _turn(ActionMisunderstood(), "make it 3 of the mascara", "out_of_scope",
                           "alice", slots)
    assert "3 x Essence Mascara Lash Princess" in more
    gone, slots, _ = _turn(ActionCartIssue(), "remove the bed please", "cart_issue", "alice",
                           slots)
    assert "removed Annibale Colombo Bed" in gone and "$29.97" in gone
    with session_scope() as s:
        assert sorted((i.product_id, i.quantity) for i in s.scalars(select(CartItem))
                      if i.cart.customer_id == 1) == [(1, 3)]


def test_discount_why_not_and_which_codes(shop):
    _, slots, _ = _turn(ActionApplyDiscount(), "apply WELCOME5", "discount_code", "bob",
                        {"discount_code": "WELCOME5"})
    why, slots, _ = _turn(ActionMisunderstood(), "why not?", "out_of_scope", "bob", slots)
    assert "WELCOME5 needs an order of at least $30.00" in why and "$28.98" in why
    codes, _, _ = _turn(ActionApplyDiscount(), "which codes can I use?", "discount_code",
                        "bob", slots)
    assert "SPRING10" in codes and "FIRST10" in codes
    assert not any(code in codes for code in ("WELCOME5", "VIP20", "EXPIRED15", "SUMMER25"))


def test_no_follow_up_without_context(shop):
    reply, _, events = _turn(ActionMisunderstood(), "why is it late?", "out_of_scope", "bob",
                             {})
    assert reply == "utter_out_of_scope" and followup(events) is None


def test_the_takeover_check_never_passes_a_message_on(shop):
    _, slots, _ = _turn(ActionOrderStatus(), "where is TL-10003", "order_status", "bob",
                        {"order_id": "TL-10003"})
    reply, _, _ = _turn(ActionTakeoverCheck(), "where is TL-10003 now?", "order_status",
                             "bob", slots)
    assert "TL-10003" not in reply


def test_a_restart_that_continues_the_topic_answers_it_and_listens(shop):
    _, slots, _ = _turn(ActionPaymentIssue(), "my payment failed", "payment_issue", "dev", {})
    reply, _, events = _turn(ActionRestart(), "can I try again?", "restart", "dev", slots)
    assert "try again" in reply and followup(events) == "action_listen"
    assert not any(e.get("event") == "restart" for e in events)
    reply, _, events = _turn(ActionRestart(), "start over", "restart", "dev", slots)
    assert reply == "utter_restart" and events[-1]["event"] == "restart"
