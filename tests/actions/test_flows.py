import asyncio

import pytest
from sqlalchemy import select

from actions.cart import ActionCartIssue
from actions.discounts import ActionApplyDiscount, ValidateDiscountForm
from actions.handoff import ActionHandoff, ActionTakeoverCheck
from actions.orders import ActionOrderStatus, ValidateOrderStatusForm
from actions.payments import ActionPaymentIssue
from actions.resume import ActionResumeRequest
from bot.store.db import session_scope
from bot.store.models import Cart, Ticket
from bot.store.tickets import close_ticket
from tests.actions.conftest import followup, make_tracker, run_action, slot, texts


def test_order_status_reports_carrier_and_date(shop):
    msgs, events = run_action(
        ActionOrderStatus(),
        make_tracker("web-1", "where is tl10003", customer="bob",
                     slots={"order_id": "tl10003"}),
    )
    assert "TL-10003 is delayed with UPS" in texts(msgs) and "expected on" in texts(msgs)
    assert slot(events, "order_id") is None


def test_guest_order_status_needs_the_number_and_its_e_mail(shop):
    anonymous = make_tracker("web-1", "where is tl10003", slots={"order_id": "tl10003"})
    msgs, events = run_action(ActionOrderStatus(), anonymous)
    assert msgs == [] and followup(events) == "order_status_form"
    msgs, events = run_action(ActionOrderStatus(), make_tracker(
        "web-1", "bob@example.com", slots={"order_id": "tl10003",
                                            "order_email": "BOB@example.com"}))
    assert "TL-10003 is delayed with UPS" in texts(msgs)
    assert slot(events, "order_email") is None
    assert "customer_id" not in [e.get("name") for e in events]  # no account is linked


def test_order_number_with_the_wrong_e_mail_tells_nothing(shop):
    msgs, events = run_action(ActionOrderStatus(), make_tracker(
        "web-4", "alice@example.com", slots={"order_id": "TL-10003",
                                              "order_email": "alice@example.com"}))
    said = texts(msgs)
    assert "couldn't find an order TL-10003 with that e-mail" in said
    assert "UPS" not in said and "delayed" not in said
    assert followup(events) == "utter_offer_human"


def test_failed_guest_look_ups_are_rate_limited(shop):
    """Five failures in an hour (per conversation, order number or e-mail) block the
    next look-up, even with the right e-mail; another conversation guessing the same
    order is blocked too."""
    for n in range(5):
        run_action(ActionOrderStatus(), make_tracker("web-5", "x", slots={
            "order_id": "TL-10001", "order_email": f"guess{n}@example.com"}))
    right = {"order_id": "TL-10001", "order_email": "alice@example.com"}
    msgs, _ = run_action(ActionOrderStatus(), make_tracker("web-5", "x", slots=right))
    assert msgs == [{"response": "utter_lookup_blocked", **{
        k: v for k, v in msgs[0].items() if k != "response"}}]
    msgs, _ = run_action(ActionOrderStatus(), make_tracker("web-6", "x", slots=right))
    assert "DHL" not in texts(msgs) and msgs[0].get("response") == "utter_lookup_blocked"
    msgs, _ = run_action(ActionOrderStatus(), make_tracker(
        "web-6", "x", customer="alice", slots={"order_id": "TL-10001"}))
    assert "DHL" in texts(msgs)  # the signed-in owner is not limited


def test_order_status_without_number_starts_the_form(shop):
    msgs, events = run_action(ActionOrderStatus(), make_tracker("web-1", "where is my order"))
    assert msgs == [] and followup(events) == "order_status_form"
    assert slot(events, "pending_request") == "order_status"


def test_unknown_order_offers_a_person(shop):
    msgs, events = run_action(ActionOrderStatus(), make_tracker(
        "web-1", "x", customer="alice", slots={"order_id": "TL-99999"}))
    assert "couldn't find an order TL-99999" in texts(msgs)
    assert followup(events) == "utter_offer_human"


def test_other_customers_order_is_not_disclosed(shop):
    msgs, _ = run_action(
        ActionOrderStatus(),
        make_tracker("web-1", "x", customer="alice", slots={"order_id": "TL-10003"}),
    )
    assert "couldn't find" in texts(msgs) and "UPS" not in texts(msgs)


def test_order_form_validation(shop):
    from rasa_sdk.executor import CollectingDispatcher

    d = CollectingDispatcher()
    out = ValidateOrderStatusForm().validate_order_id("it's #10001", d, make_tracker(), {})
    assert out == {"order_id": "TL-10001"}
    out = ValidateOrderStatusForm().validate_order_id("no idea", d, make_tracker(), {})
    assert out["order_id"] is None and "doesn't look like" in d.messages[0]["text"]


def test_order_form_asks_an_anonymous_visitor_for_the_e_mail_too(shop):
    from rasa_sdk.executor import CollectingDispatcher

    form, d = ValidateOrderStatusForm(), CollectingDispatcher()
    slots = ["order_id", "order_email"]
    anonymous = asyncio.run(form.required_slots(slots, d, make_tracker(), {}))
    signed_in = asyncio.run(form.required_slots(slots, d, make_tracker(customer="bob"), {}))
    assert anonymous == ["order_id", "order_email"] and signed_in == ["order_id"]


@pytest.mark.parametrize("action,pending", [
    (ActionCartIssue, "cart"), (ActionPaymentIssue, "payment"),
    (ActionApplyDiscount, "discount")])
def test_anonymous_visitor_is_told_to_sign_in(shop, action, pending):
    """No cart, payment or discount code without a verified customer, whatever the
    conversation typed or which slots it holds (an e-mail, a customer_id slot, a sender
    id that is a demo customer's short name)."""
    bob = make_tracker(customer="bob").events[-1]["metadata"]
    tracker = make_tracker("bob", "bob@example.com", intent="cart_issue", slots={
        "customer_id": bob["touchline_verified_customer_id"], "pending_request": pending,
        "discount_code": "SUMMER25"})
    msgs, events = run_action(ActionResumeRequest(), tracker)
    assert [m.get("response") for m in msgs] == ["utter_sign_in_needed"]
    assert "customer_id" not in [e.get("name") for e in events]


def test_client_metadata_cannot_claim_a_customer_on_an_older_message(shop):
    """Only the latest user message's stamp counts: an earlier signed-in message does not
    sign in a later anonymous one."""
    earlier = make_tracker(customer="bob", text="hi").events
    tracker = make_tracker("web-3", "my cart is broken", events=earlier)
    msgs, _ = run_action(ActionCartIssue(), tracker)
    assert [m.get("response") for m in msgs] == ["utter_sign_in_needed"]


def test_cart_issue_fixes_wrong_total(shop):
    msgs, _ = run_action(ActionCartIssue(),
                         make_tracker(customer="chloe", text="the total is wrong"))
    assert "corrected the price of Powder Canister from $24.99 to $14.99" in texts(msgs)
    assert "Total:" in texts(msgs)


def test_healthy_cart_offers_a_person(shop):
    msgs, events = run_action(ActionCartIssue(),
                              make_tracker(customer="alice", text="cart problem"))
    assert "looks right" in texts(msgs) and followup(events) == "utter_offer_human"


def test_payment_decline_explained_with_country_methods(shop):
    msgs, _ = run_action(
        ActionPaymentIssue(),
        make_tracker(customer="emma", text="my payment failed", intent="payment_issue"),
    )
    out = texts(msgs)
    assert "not offered in your country" in out and "Klarna" not in out.split("pay with")[-1]


def test_three_d_secure_explained(shop):
    msgs, _ = run_action(
        ActionPaymentIssue(),
        make_tracker(customer="dev", text="payment won't go through", intent="payment_issue"),
    )
    assert "3-D Secure" in texts(msgs)


def test_charged_twice_opens_ticket(shop):
    msgs, events = run_action(
        ActionPaymentIssue(),
        make_tracker(customer="frank", text="I was charged twice for my order",
                     intent="payment_issue"),
    )
    ticket_id = slot(events, "ticket_id")
    assert f"ticket #{ticket_id}" in texts(msgs) and "two charges of $249.99" in texts(msgs)
    with session_scope() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket.reason == "double_charge" and not ticket.takeover
        assert "charged twice" in ticket.summary


def test_discount_applied_and_cart_total_updated(shop):
    msgs, events = run_action(
        ActionApplyDiscount(),
        make_tracker(customer="frank", text="use SUMMER25", slots={"discount_code": "summer25"}),
    )
    assert "you save $22.50" in texts(msgs) and "$67.49" in texts(msgs)
    with session_scope() as s:
        assert (
            s.scalar(
                select(Cart.discount_code).where(Cart.customer_id == slot(events, "customer_id"))
            )
            == "SUMMER25"
        )


def test_discount_without_code_asks_for_it(shop):
    _, events = run_action(ActionApplyDiscount(),
                          make_tracker(customer="bob", text="I have a code"))
    assert followup(events) == "discount_form"


def test_discount_form_validation():
    from rasa_sdk.executor import CollectingDispatcher

    d = CollectingDispatcher()
    v = ValidateDiscountForm()
    assert v.validate_discount_code("it's spring10", d, make_tracker(), {}) == {
        "discount_code": "SPRING10"
    }
    # no code offered: the slot stays empty and the form asks again
    assert v.validate_discount_code("<script>", d, make_tracker(), {})["discount_code"] is None
    assert v.validate_discount_code("   ", d, make_tracker(), {})["discount_code"] is None


def test_unknown_code_is_named_in_the_reply(shop):
    msgs, _ = run_action(
        ActionApplyDiscount(),
        make_tracker(customer="bob", text="x",
                     slots={"discount_code": "<IMG SRC=X ONERROR=ALERT(1)>"}),
    )
    assert "I couldn't find the code <IMGSRC=XONERROR=ALERT(1)>" in texts(msgs)


def test_handoff_silence_until_ticket_closed(shop):
    history = [
        {"event": "user", "text": "my cart is weird"},
        {"event": "bot", "text": "Here's your cart"},
    ]
    msgs, events = run_action(
        ActionHandoff(), make_tracker("web-9", "human please", events=history)
    )
    ticket_id = slot(events, "ticket_id")
    assert slot(events, "human_takeover") is True and f"#{ticket_id}" in texts(msgs)
    with session_scope() as s:
        summary = s.get(Ticket, ticket_id).summary
    assert "Customer: my cart is weird" in summary and "Assistant: Here's your cart" in summary
    msgs, events = run_action(ActionTakeoverCheck(), make_tracker("web-9", "hello?"))
    assert msgs == [] and slot(events, "human_takeover") is True
    with session_scope() as s:
        close_ticket(s, ticket_id)
    msgs, events = run_action(ActionTakeoverCheck(), make_tracker("web-9", "hello?"))
    assert "I'm back" in texts(msgs) and slot(events, "human_takeover") is False
