"""Erase one customer (GDPR article 17, right to erasure) and say what was removed.

Given an e-mail address or a customer id:

1. **Conversations** (tracker store): every conversation linked to the customer: the
   channel's sender id of the account, the conversations of their tickets, any in which a
   channel stamped a message as theirs (a signed-in widget, a linked Telegram chat) or the
   ``customer_id`` slot was set to them, and any event that holds their e-mail address.
2. **Shop database**: their tickets (and every ticket of those conversations), their cart
   with its items, and every other row of a table with a ``customer_id`` column, except the
   records a shop must keep for accounting (:data:`KEPT_FOR_ACCOUNTING`: orders, payments
   and discount redemptions). Those stay, pointing to the customer row, which is
   anonymised: name ``erased customer``, e-mail ``erased-<id>@invalid`` (RFC 2606's
   reserved top-level domain, unique like the column), no linked sender id. The country
   stays (taxes and the payment methods of the kept payments depend on it).

Usage::

    python -m bot.privacy.forget alice@example.com
    python -m bot.privacy.forget 3
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.privacy.conversations import delete_conversations, senders_of_customer, tracker_engine
from bot.store import customers
from bot.store.db import Base, session_scope
from bot.store.models import Cart, CartItem, Customer, Ticket

KEPT_FOR_ACCOUNTING = ("orders", "payments", "discount_redemptions")
"""Tables whose rows of the customer are kept (bookkeeping), pointing to the anonymised row."""
ERASED_NAME = "erased customer"


class UnknownCustomer(LookupError):
    """No customer has that e-mail address or id."""


@dataclass
class Erasure:
    """What :func:`forget` removed: counts by what they were, and what it kept."""

    customer_id: int
    removed: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The report, one line each."""
        out = [f"customer #{self.customer_id}: name and e-mail erased, sender link removed"]
        out += [f"removed {n} {what}" for what, n in self.removed.items()]
        out += [f"kept {n} {what} for accounting (now anonymous)" for what, n in self.kept.items()]
        return out


def find_customer(session: Session, who: str) -> Customer:
    """The customer named by an e-mail address or a numeric id.

    Raises:
        UnknownCustomer: nobody matches.
    """
    who = who.strip()
    customer = (session.get(Customer, int(who)) if who.isdigit()
                else customers.by_email(session, who))
    if customer is None or customer.email.endswith("@invalid"):
        raise UnknownCustomer(f"no customer with e-mail address or id {who!r}")
    return customer


def forget(who: str, database_url: str | None = None,
           tracker_db: str | Path | None = None) -> Erasure:
    """Erase a customer's conversations, tickets and personal fields.

    Args:
        who: e-mail address or customer id.
        database_url: the shop database (default ``DATABASE_URL``).
        tracker_db: the tracker store's SQLite file (default ``TRACKER_DB``).

    Returns:
        What was removed and kept.

    Raises:
        UnknownCustomer: nobody matches ``who`` (nothing is changed).
    """
    with session_scope(database_url) as session:
        customer = find_customer(session, who)
        erasure = Erasure(customer.id)
        senders = set(session.scalars(select(Ticket.sender_id).where(
            Ticket.customer_id == customer.id)))
        if customer.sender_id:
            senders.add(customer.sender_id)
        engine = tracker_engine(tracker_db)
        if engine is not None:
            with engine.begin() as conn:
                senders |= senders_of_customer(conn, customer.id, [customer.email])
                erasure.removed["conversation events"] = delete_conversations(conn, senders)
            engine.dispose()
        erasure.removed["conversations"] = len(senders)
        erasure.removed["tickets"] = session.execute(delete(Ticket.__table__).where(
            (Ticket.customer_id == customer.id) | Ticket.sender_id.in_(senders))).rowcount
        carts = select(Cart.id).where(Cart.customer_id == customer.id).scalar_subquery()
        erasure.removed["cart items"] = session.execute(
            delete(CartItem.__table__).where(CartItem.cart_id.in_(carts))).rowcount
        for table in reversed(Base.metadata.sorted_tables):
            if "customer_id" not in table.c or table.name == "tickets":
                continue
            where = table.c.customer_id == customer.id
            if table.name in KEPT_FOR_ACCOUNTING:
                erasure.kept[table.name.replace("_", " ")] = session.scalar(
                    select(func.count()).select_from(table).where(where))
            else:
                erasure.removed[table.name.replace("_", " ")] = session.execute(
                    delete(table).where(where)).rowcount
        customer.name = ERASED_NAME
        customer.email = f"erased-{customer.id}@invalid"
        customer.sender_id = None
    return erasure


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module doc. Returns the exit status (1: unknown customer)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("customer", help="e-mail address or customer id")
    args = parser.parse_args(argv)
    try:
        erasure = forget(args.customer)
    except UnknownCustomer as exc:
        print(exc, file=sys.stderr)
        return 1
    print("\n".join(erasure.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
