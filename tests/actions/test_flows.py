import asyncio
import threading

from sqlalchemy import select

from actions.cart import ActionCartIssue
from actions.discounts import ActionApplyDiscount, ValidateDiscountForm
from actions.handoff import ActionHandoff, ActionTakeoverCheck
from actions.identify import ValidateIdentifyForm
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
        make_tracker("web-1", "where is tl10003", slots={"order_id": "tl10003"}),
    )
    assert "TL-10003 is delayed with UPS" in texts(msgs) and "expected on" in texts(msgs)
    assert slot(events, "order_id") is None


def test_order_status_without_number_starts_the_form(shop):
    msgs, events = run_action(ActionOrderStatus(), make_tracker("web-1", "where is my order"))
    assert msgs == [] and followup(events) == "order_status_form"
    assert slot(events, "pending_request") == "order_status"


def test_unknown_order_offers_a_person(shop):
    msgs, events = run_action(
        ActionOrderStatus(), make_tracker("web-1", "x", slots={"order_id": "TL-99999"})
    )
    assert "couldn't find an order TL-99999" in texts(msgs)
    assert followup(events) == "utter_offer_human"


def test_other_customers_order_is_not_disclosed(shop):
    msgs, _ = run_action(
        ActionOrderStatus(), make_tracker("alice", "x", slots={"order_id": "TL-10003"})
    )
    assert "couldn't find" in texts(msgs) and "UPS" not in texts(msgs)


def test_order_form_validation(shop):
    from rasa_sdk.executor import CollectingDispatcher

    d = CollectingDispatcher()
    out = ValidateOrderStatusForm().validate_order_id("it's #10001", d, make_tracker(), {})
    assert out == {"order_id": "TL-10001"}
    out = ValidateOrderStatusForm().validate_order_id("no idea", d, make_tracker(), {})
    assert out["order_id"] is None and "doesn't look like" in d.messages[0]["text"]


def test_identify_form_queries_the_database_off_the_event_loop(shop):
    """The validator's lookup runs in a worker thread: the loop keeps serving others."""
    from rasa_sdk.executor import CollectingDispatcher
    from sqlalchemy import event

    from bot.store.db import get_engine

    threads: list[int] = []

    def record(*_args) -> None:
        threads.append(threading.get_ident())

    engine = get_engine(shop)
    event.listen(engine, "before_cursor_execute", record)

    async def validate() -> tuple[dict, int]:
        found = await ValidateIdentifyForm().validate_customer_ref(
            "TL-10003", CollectingDispatcher(), make_tracker("web-3"), {}
        )
        return found, threading.get_ident()

    try:
        found, loop_thread = asyncio.run(validate())
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert found["customer_id"] and threads and loop_thread not in threads


def test_identify_by_email_then_resume_cart(shop):
    from rasa_sdk.executor import CollectingDispatcher

    d = CollectingDispatcher()
    found = asyncio.run(ValidateIdentifyForm().validate_customer_ref(
        "Bob@example.com", d, make_tracker("web-2"), {}
    ))
    assert found["customer_id"] and found["customer_ref"]
    missing = asyncio.run(ValidateIdentifyForm().validate_customer_ref(
        "who@nowhere.com", d, make_tracker("web-2"), {}
    ))
    assert missing["customer_ref"] is None and "customer_id" not in missing
    tracker = make_tracker(
        "web-2",
        "bob@example.com",
        slots={"customer_id": found["customer_id"], "pending_request": "cart"},
    )
    msgs, events = run_action(ActionResumeRequest(), tracker)
    assert "out of stock" in texts(msgs)
    assert slot(events, "pending_request") is None


def test_cart_issue_unknown_sender_asks_to_identify(shop):
    msgs, events = run_action(ActionCartIssue(), make_tracker("web-3", "my cart is broken"))
    assert followup(events) == "identify_form" and slot(events, "pending_request") == "cart"


def test_cart_issue_fixes_wrong_total(shop):
    msgs, _ = run_action(ActionCartIssue(), make_tracker("chloe", "the total is wrong"))
    assert "corrected the price of Powder Canister from $24.99 to $14.99" in texts(msgs)
    assert "Total:" in texts(msgs)


def test_healthy_cart_offers_a_person(shop):
    msgs, events = run_action(ActionCartIssue(), make_tracker("alice", "cart problem"))
    assert "looks right" in texts(msgs) and followup(events) == "utter_offer_human"


def test_payment_decline_explained_with_country_methods(shop):
    msgs, _ = run_action(
        ActionPaymentIssue(), make_tracker("emma", "my payment failed", intent="payment_issue")
    )
    out = texts(msgs)
    assert "not offered in your country" in out and "Klarna" not in out.split("pay with")[-1]


def test_three_d_secure_explained(shop):
    msgs, _ = run_action(
        ActionPaymentIssue(),
        make_tracker("dev", "payment won't go through", intent="payment_issue"),
    )
    assert "3-D Secure" in texts(msgs)


def test_charged_twice_opens_ticket(shop):
    msgs, events = run_action(
        ActionPaymentIssue(),
        make_tracker("frank", "I was charged twice for my order", intent="payment_issue"),
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
        make_tracker("frank", "use SUMMER25", slots={"discount_code": "summer25"}),
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
    _, events = run_action(ActionApplyDiscount(), make_tracker("bob", "I have a code"))
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
        make_tracker("bob", "x", slots={"discount_code": "<IMG SRC=X ONERROR=ALERT(1)>"}),
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
