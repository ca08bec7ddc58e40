"""``forget``: nothing of the customer is left in either database; accounting rows stay,
anonymous."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from bot.config import PROJECT_ROOT
from bot.identity.metadata import VERIFIED_CUSTOMER
from bot.privacy.forget import KEPT_FOR_ACCOUNTING, forget
from bot.store.db import Base, session_scope
from bot.store.models import Customer
from bot.store.phones import register_phone
from bot.store.tickets import close_ticket, open_ticket
from tests.privacy.conftest import dump

ALICE = ("alice@example.com", "Alice Morgan", "+447700900555")


def alices_world(session, tracker) -> int:
    """Alice's conversations and tickets, beside other customers'; returns her id."""
    alice = session.scalar(select(Customer).where(Customer.email == ALICE[0]))
    bob = session.scalar(select(Customer).where(Customer.email == "bob@example.com"))
    tracker.conversation("alice", "where is my order?")  # the linked sender id
    tracker.conversation("web-1", "I want a discount", slots={"customer_id": alice.id})
    tracker.conversation("web-2", "it's ALICE@example.com")  # typed, before any slot
    tracker.conversation("web-3", "I need a person")  # only her ticket links it
    tracker.conversation("web-4", "hi, I'm Bob", slots={"customer_id": bob.id})
    tracker.conversation("web-5", "hello")  # anonymous
    # signed in through the widget: only the channel's stamp names her
    tracker.conversation("web-6", "where is my order?", metadata={VERIFIED_CUSTOMER: alice.id})
    tracker.conversation("web-7", "hello", metadata={VERIFIED_CUSTOMER: bob.id})
    open_ticket(session, "web-3", alice.id, "handoff", "Customer: I need a person", True)
    closed = open_ticket(session, "alice", alice.id, "handoff", "Customer: hi", True)
    close_ticket(session, closed.ticket.id)
    open_ticket(session, "web-4", bob.id, "handoff", "Customer: hi, I'm Bob", True)
    register_phone(session, alice.id, ALICE[2], "73914862")
    session.commit()
    return alice.id


def rows_of(db_file: Path, customer_id: int) -> dict[str, int]:
    """Rows per table that point to the customer (``customer_id`` columns)."""
    import sqlite3

    counts = {}
    with sqlite3.connect(db_file) as conn:
        for table in Base.metadata.sorted_tables:
            if "customer_id" in table.c:
                counts[table.name] = conn.execute(
                    f'SELECT count(*) FROM "{table.name}" WHERE customer_id = ?',
                    (customer_id,)).fetchone()[0]
    return counts


def test_forget_leaves_nothing_of_the_customer_behind(db_url, session, tracker, tmp_path):
    alice_id = alices_world(session, tracker)
    shop_file = tmp_path / "shop.db"
    before = dump(shop_file) + dump(tracker.path)
    assert all(text.lower() in before.lower() for text in ALICE)
    assert any(rows_of(shop_file, alice_id)[t] for t in ("carts", "tickets", "orders"))

    erasure = forget(ALICE[0], db_url, tracker.path)

    after = dump(shop_file) + dump(tracker.path)
    for text in ALICE:
        assert text.lower() not in after.lower()
    assert tracker.senders() == ["web-4", "web-5", "web-7"]
    left = {t: n for t, n in rows_of(shop_file, alice_id).items() if n}
    assert set(left) <= set(KEPT_FOR_ACCOUNTING) and left["orders"] == 2
    with session_scope(db_url) as s:
        erased = s.get(Customer, alice_id)
        assert (erased.name, erased.email, erased.sender_id) == (
            "erased customer", f"erased-{alice_id}@invalid", None)
        assert "Bob Chen" in dump(shop_file)  # nobody else is touched
    assert erasure.removed["conversations"] == 5 and erasure.removed["tickets"] == 2
    assert erasure.removed["carts"] == 1 and erasure.kept["orders"] == 2
    assert erasure.removed["customer phones"] == 1
    assert "removed 2 tickets" in erasure.lines()


def test_the_command_reports_and_refuses_an_unknown_customer(db_url, session, tracker):
    alices_world(session, tracker)
    command = [sys.executable, "-m", "bot.privacy.forget"]
    unknown = subprocess.run([*command, "nobody@example.com"], cwd=PROJECT_ROOT,
                             capture_output=True, text=True)
    assert unknown.returncode == 1 and "no customer" in unknown.stderr
    assert "web-1" in tracker.senders()  # nothing changed
    done = subprocess.run([*command, "1"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          check=True)
    assert "removed 5 conversations" in done.stdout and "kept 2 orders" in done.stdout
    again = subprocess.run([*command, "1"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert again.returncode == 1  # already erased
