"""Side effects happen once per subject, also when the same request runs twice at the same
moment: two real sessions on one database (SQLite file and PostgreSQL), the second started
while the first holds its uncommitted write, as two action-server workers would."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store import customers
from bot.store.carts import repair_cart, view_cart
from bot.store.db import session_factory, session_scope
from bot.store.discounts import apply_code
from bot.store.models import CartItem, DiscountRedemption, Ticket
from bot.store.tickets import open_ticket


def cid(session: Session, sender: str) -> int:
    return customers.by_sender(session, sender).id


def interleaved(work: Callable[[Session], Any]) -> tuple[Any, Any]:
    """Run ``work`` in session A up to its uncommitted writes, start it in session B on
    another thread, then commit A; returns both results (B's once it committed)."""
    first = session_factory()()
    result_a = work(first)
    result_b: dict[str, Any] = {}

    def second() -> None:
        try:
            with session_scope() as s:
                result_b["value"] = work(s)
        except Exception as exc:  # reported by the assertion below
            result_b["error"] = exc

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.5)  # B reads what A has not committed yet, then waits for A's lock
    first.commit()
    first.close()
    thread.join(60)
    assert not thread.is_alive(), "the second request never finished"
    assert "error" not in result_b, repr(result_b.get("error"))
    return result_a, result_b["value"]


def count(model: type, *where: Any) -> int:
    with session_scope() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_same_double_charge_ticket_at_once_is_opened_once(any_db_url):
    key = "double_charge:payments:7-8"
    a, b = interleaved(lambda s: open_ticket(s, "frank", cid(s, "frank"), "double_charge",
                                             "Customer: charged twice", takeover=False,
                                             dedup_key=key))
    assert a.created and not b.created and a.ticket.id == b.ticket.id
    assert count(Ticket, Ticket.dedup_key == key) == 1


def test_same_handoff_at_once_opens_one_takeover_ticket(any_db_url):
    a, b = interleaved(lambda s: open_ticket(s, "web-9", None, "handoff", "Customer: help",
                                             takeover=True))
    assert a.ticket.id == b.ticket.id and [a.created, b.created] == [True, False]
    assert count(Ticket, Ticket.sender_id == "web-9") == 1


def test_closed_ticket_frees_its_subject(any_db_url):
    with session_scope() as s:
        first = open_ticket(s, "web-9", None, "handoff", "x", takeover=True).ticket
        first.status = "closed"
    with session_scope() as s:
        again = open_ticket(s, "web-9", None, "handoff", "y", takeover=True)
    assert again.created and again.ticket.id != first.id


def test_same_code_applied_twice_at_once_is_redeemed_once(any_db_url):
    a, b = interleaved(lambda s: apply_code(s, cid(s, "frank"), "first10"))
    assert a.applied and b.applied
    with session_scope() as s:
        frank = cid(s, "frank")
        assert view_cart(s, frank).discount_code == "FIRST10"
    assert count(DiscountRedemption, DiscountRedemption.customer_id == frank) == 1


def test_code_applied_again_later_is_already_applied_not_used(any_db_url):
    with session_scope() as s:
        first = apply_code(s, cid(s, "frank"), "FIRST10")
    with session_scope() as s:
        again = apply_code(s, cid(s, "frank"), "FIRST10")
    assert first.reason == "applied" and again.reason == "already_applied" and again.applied
    assert again.cart.total == first.cart.total and again.cart.discount == first.cart.discount


def test_same_cart_repaired_twice_at_once_adds_the_lost_item_once(any_db_url):
    a, b = interleaved(lambda s: repair_cart(s, cid(s, "emma")).fixes)
    assert [fix.kind for fix in a] == ["added"] and b == []
    with session_scope() as s:
        assert [ln.product_id for ln in view_cart(s, cid(s, "emma")).lines] == [6, 7]


def test_same_out_of_stock_line_removed_twice_at_once(any_db_url):
    with session_scope() as s:
        bob = cid(s, "bob")
        before = len(view_cart(s, bob).lines)
    a, b = interleaved(lambda s: repair_cart(s, cid(s, "bob")).fixes)
    assert [fix.kind for fix in a] == ["removed"] and b == []
    with session_scope() as s:
        assert len(view_cart(s, bob).lines) == before - 1
    assert count(CartItem) > 0
