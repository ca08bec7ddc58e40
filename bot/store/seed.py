"""Deterministic demo data: the DummyJSON catalogue and customers whose states exercise
every support flow.

Demo customers (short name → situation); each logs in to the demo shop page with their
e-mail and the password :data:`DEMO_PASSWORD` (``alice@example.com`` / ``alice-demo``):

* ``alice`` (GB): shipped order TL-10001, delivered TL-10002, healthy cart, already used FIRST10.
* ``bob`` (US): delayed order TL-10003; last payment declined for insufficient funds;
  cart holds an out-of-stock item.
* ``chloe`` (DE): payment declined, expired card; cart total wrong (a stale unit price).
* ``dev`` (IN): payment failed 3-D Secure authentication.
* ``emma`` (BR): tried Klarna, which is not offered in Brazil; an item she added never
  reached her cart.
* ``frank`` (US): charged twice for order TL-10006.

Dates are relative to the day the seed runs, so codes and deliveries stay meaningful.
Run ``python -m bot.store.seed`` (idempotent: it seeds an empty database only).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config import PROJECT_ROOT
from bot.store.models import (
    Cart,
    CartEvent,
    CartItem,
    Customer,
    DiscountCode,
    DiscountRedemption,
    Order,
    Payment,
    PaymentMethod,
    Product,
    today,
)
from bot.store.passwords import hash_password

CATALOGUE_PATH = PROJECT_ROOT / "data" / "catalogue" / "products.json"
"""DummyJSON products (MIT, github.com/Ovi/DummyJSON, see data/catalogue/SOURCE.txt)."""

DEMO_PASSWORD = "{name}-demo"
"""A demo customer's password on the demo shop page (``alice-demo``): a demo, not a secret."""

OUT_OF_STOCK_PRODUCT_ID = 5
"""Catalogue item whose stock the seed sets to 0 (it sits in bob's cart)."""


@cache
def demo_password_hash(short_name: str) -> str:
    """The bcrypt hash of a demo customer's public password (:data:`DEMO_PASSWORD`), made
    once per process: a hash costs about 0.3 s, and every seeded test database needs six."""
    return hash_password(DEMO_PASSWORD.format(name=short_name))

def load_catalogue(path: Path = CATALOGUE_PATH) -> list[dict]:
    """Read the DummyJSON product list.

    Args:
        path: JSON file holding a list of product objects.

    Returns:
        The list of product dicts as in the file.
    """
    return json.loads(path.read_text(encoding="utf-8"))


def seed_products(session: Session, path: Path = CATALOGUE_PATH) -> int:
    """Insert every catalogue product; returns the number inserted."""
    products = load_catalogue(path)
    for p in products:
        session.add(
            Product(
                id=p["id"],
                title=p["title"],
                description=p.get("description", ""),
                category=p["category"],
                brand=p.get("brand"),
                price=Decimal(str(p["price"])),
                stock=0 if p["id"] == OUT_OF_STOCK_PRODUCT_ID else int(p.get("stock", 0)),
                rating=p.get("rating"),
                tags=p.get("tags", []),
                sku=p.get("sku"),
            )
        )
    session.flush()
    return len(products)


def _seed_payment_methods(session: Session) -> None:
    session.add_all(
        [
            PaymentMethod(code="card", name="Credit or debit card", countries=["*"]),
            PaymentMethod(code="paypal", name="PayPal", countries=["*"]),
            PaymentMethod(code="apple_pay", name="Apple Pay", countries=["*"]),
            PaymentMethod(code="google_pay", name="Google Pay", countries=["*"]),
            PaymentMethod(code="klarna", name="Klarna", countries=["GB", "DE", "US", "SE"]),
            PaymentMethod(code="bank_transfer", name="Bank transfer", countries=["DE", "NL"]),
        ]
    )


def _seed_discount_codes(session: Session) -> None:
    d = today()
    session.add_all(
        [
            DiscountCode(code="SPRING10", percent_off=10, starts_on=d - timedelta(30),
                         ends_on=d + timedelta(60), min_order_value=0, single_use=False),
            DiscountCode(code="WELCOME5", amount_off=5, starts_on=d - timedelta(365),
                         ends_on=d + timedelta(365), min_order_value=30, single_use=True),
            DiscountCode(code="VIP20", percent_off=20, starts_on=d - timedelta(10),
                         ends_on=d + timedelta(30), min_order_value=500, single_use=True),
            DiscountCode(code="SUMMER25", percent_off=25, starts_on=d - timedelta(10),
                         ends_on=d + timedelta(30), min_order_value=0,
                         category="womens-dresses", single_use=False),
            DiscountCode(code="EXPIRED15", percent_off=15, starts_on=d - timedelta(90),
                         ends_on=d - timedelta(1), min_order_value=0, single_use=False),
            DiscountCode(code="BLACKFRIDAY30", percent_off=30, starts_on=d + timedelta(7),
                         ends_on=d + timedelta(10), min_order_value=0, single_use=True),
            DiscountCode(code="FIRST10", percent_off=10, starts_on=d - timedelta(365),
                         ends_on=d + timedelta(365), min_order_value=0, single_use=True),
        ]
    )


def _cart(session: Session, customer: Customer, lines: list[tuple[int, int, str | None]]) -> None:
    """Give ``customer`` a cart; each line is (product id, quantity, stale unit price)."""
    cart = Cart(customer_id=customer.id)
    for product_id, qty, stale_price in lines:
        product = session.get(Product, product_id)
        price = Decimal(stale_price) if stale_price else product.price
        cart.items.append(CartItem(product_id=product_id, quantity=qty, unit_price=price))
    session.add(cart)


def seed_demo(session: Session) -> None:
    """Insert payment methods, codes, customers, orders, payments and carts.

    Requires :func:`seed_products` to have run in the same database.
    """
    _seed_payment_methods(session)
    _seed_discount_codes(session)
    d, now = today(), datetime.utcnow().replace(microsecond=0)
    people = {
        "alice": Customer(name="Alice Morgan", email="alice@example.com", country="GB"),
        "bob": Customer(name="Bob Chen", email="bob@example.com", country="US"),
        "chloe": Customer(name="Chloe Wagner", email="chloe@example.com", country="DE"),
        "dev": Customer(name="Dev Patel", email="dev@example.com", country="IN"),
        "emma": Customer(name="Emma Souza", email="emma@example.com", country="BR"),
        "frank": Customer(name="Frank Miller", email="frank@example.com", country="US"),
    }
    for short_name, customer in people.items():
        customer.sender_id = short_name
        customer.password_hash = demo_password_hash(short_name)
        session.add(customer)
    session.flush()
    alice, bob, chloe, dev, emma, frank = people.values()
    orders = [
        Order(number="TL-10001", customer_id=alice.id, status="shipped", carrier="DHL",
              tracking_number="JD014600003GB", expected_date=d + timedelta(2),
              total=Decimal("59.97"), created_at=now - timedelta(days=3)),
        Order(number="TL-10002", customer_id=alice.id, status="delivered", carrier="Royal Mail",
              tracking_number="RM123456785GB", expected_date=d - timedelta(10),
              total=Decimal("12.99"), created_at=now - timedelta(days=14)),
        Order(number="TL-10003", customer_id=bob.id, status="delayed", carrier="UPS",
              tracking_number="1Z999AA10123456784", expected_date=d + timedelta(5),
              total=Decimal("1299.99"), created_at=now - timedelta(days=9)),
        Order(number="TL-10004", customer_id=chloe.id, status="processing", carrier=None,
              expected_date=d + timedelta(4), total=Decimal("89.99"),
              created_at=now - timedelta(days=1)),
        Order(number="TL-10005", customer_id=emma.id, status="cancelled", carrier=None,
              expected_date=None, total=Decimal("49.99"), created_at=now - timedelta(days=6)),
        Order(number="TL-10006", customer_id=frank.id, status="processing", carrier=None,
              expected_date=d + timedelta(3), total=Decimal("249.99"),
              created_at=now - timedelta(hours=5)),
    ]
    session.add_all(orders)
    session.flush()
    by_number = {o.number: o for o in orders}
    session.add_all(
        [
            Payment(customer_id=alice.id, order_id=by_number["TL-10001"].id, method="card",
                    amount=Decimal("59.97"), status="succeeded", created_at=now - timedelta(3)),
            Payment(customer_id=bob.id, method="card", amount=Decimal("74.98"),
                    status="declined", decline_code="insufficient_funds",
                    created_at=now - timedelta(hours=2)),
            Payment(customer_id=chloe.id, method="card", amount=Decimal("89.99"),
                    status="declined", decline_code="expired_card",
                    created_at=now - timedelta(hours=1)),
            Payment(customer_id=dev.id, method="card", amount=Decimal("19.99"),
                    status="declined", decline_code="authentication_failed",
                    created_at=now - timedelta(minutes=30)),
            Payment(customer_id=emma.id, method="klarna", amount=Decimal("49.99"),
                    status="declined", decline_code="method_not_available",
                    created_at=now - timedelta(hours=4)),
            Payment(customer_id=frank.id, order_id=by_number["TL-10006"].id, method="card",
                    amount=Decimal("249.99"), status="succeeded",
                    created_at=now - timedelta(hours=5)),
            Payment(customer_id=frank.id, order_id=by_number["TL-10006"].id, method="card",
                    amount=Decimal("249.99"), status="succeeded",
                    created_at=now - timedelta(hours=5) + timedelta(minutes=1)),
        ]
    )
    _cart(session, alice, [(1, 2, None), (11, 1, None)])
    _cart(session, bob, [(OUT_OF_STOCK_PRODUCT_ID, 1, None), (2, 1, None)])
    _cart(session, chloe, [(3, 1, "24.99"), (4, 2, None)])  # item 3 at a stale price
    _cart(session, emma, [(6, 1, None)])
    _cart(session, frank, [(178, 1, None)])  # one womens-dresses item for SUMMER25
    session.add(CartEvent(customer_id=emma.id, product_id=7, quantity=1, kind="add",
                          applied=False, created_at=now - timedelta(minutes=20)))
    session.add(DiscountRedemption(code="FIRST10", customer_id=alice.id,
                                   redeemed_at=now - timedelta(days=30)))


def seed(session: Session) -> bool:
    """Seed an empty database with the catalogue and the demo customers.

    Returns:
        ``True`` when data was inserted, ``False`` when products already existed.
    """
    if session.scalar(select(func.count()).select_from(Product)):
        return False
    seed_products(session)
    seed_demo(session)
    return True
