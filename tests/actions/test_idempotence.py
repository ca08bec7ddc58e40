"""The same complaint sent several times opens one ticket (SQLite and PostgreSQL): two
copies of the message handled at the same moment by the real actions in two threads (as
the action server's worker threads run them), then a third copy later."""

from __future__ import annotations

import threading

from sqlalchemy import select

from actions.discounts import ActionApplyDiscount
from actions.handoff import ActionHandoff
from actions.payments import ActionPaymentIssue
from bot.store.db import session_scope
from bot.store.models import DiscountRedemption, Ticket
from tests.actions.conftest import make_tracker, run_action, slot, texts

CHARGED_TWICE = "I was charged twice for my order"


def at_once(action, tracker, copies: int = 2) -> list[tuple[list, list]]:
    """Run ``action`` on ``tracker`` in ``copies`` threads released together."""
    start = threading.Barrier(copies)
    results: list[tuple[list, list]] = []

    def one() -> None:
        start.wait()
        results.append(run_action(action, tracker))

    threads = [threading.Thread(target=one) for _ in range(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == copies
    return results


def tickets(reason: str) -> list[Ticket]:
    with session_scope() as s:
        return list(s.scalars(select(Ticket).where(Ticket.reason == reason)))


def test_double_charge_complaint_sent_three_times_opens_one_ticket(any_db_url):
    tracker = make_tracker("frank", CHARGED_TWICE, intent="payment_issue", customer="frank")
    first_two = at_once(ActionPaymentIssue(), tracker)
    opened = tickets("double_charge")
    assert len(opened) == 1, [t.id for t in opened]
    number = opened[0].id
    assert {slot(events, "ticket_id") for _, events in first_two} == {number}
    replies = sorted(texts(messages) for messages, _ in first_two)
    assert sum(f"I've opened ticket #{number}" in r for r in replies) == 1
    assert sum(f"I already opened ticket #{number} for this" in r for r in replies) == 1

    messages, events = run_action(ActionPaymentIssue(), tracker)
    assert f"I already opened ticket #{number} for this" in texts(messages)
    assert "two charges of $249.99" in texts(messages) and slot(events, "ticket_id") == number
    assert [t.id for t in tickets("double_charge")] == [number]


def test_handoff_asked_twice_at_once_opens_one_ticket(any_db_url):
    tracker = make_tracker("web-77", "I want to talk to a human", intent="human_handoff")
    results = at_once(ActionHandoff(), tracker)
    opened = tickets("handoff")
    assert len(opened) == 1 and opened[0].takeover
    assert {slot(events, "ticket_id") for _, events in results} == {opened[0].id}
    assert all("Sorry" not in texts(messages) for messages, _ in results)


def test_single_use_code_applied_twice_at_once_then_again(any_db_url):
    tracker = make_tracker("frank", "use FIRST10", slots={"discount_code": "FIRST10"},
                           customer="frank")
    results = at_once(ActionApplyDiscount(), tracker)
    for messages, _ in results:
        assert "FIRST10" in texts(messages) and "Sorry" not in texts(messages)
    again, _ = run_action(ActionApplyDiscount(), tracker)
    assert "FIRST10 is already applied to your cart" in texts(again)
    with session_scope() as s:
        used = s.scalars(select(DiscountRedemption).where(DiscountRedemption.code == "FIRST10"))
        assert len([r for r in used if r.customer_id == slot(results[0][1], "customer_id")]) == 1
