from sqlalchemy import func, inspect, select

from bot.store.db import get_engine, session_scope
from bot.store.models import Customer, DiscountCode, Product
from bot.store.schema import init_db
from bot.store.seed import OUT_OF_STOCK_PRODUCT_ID, load_catalogue


def test_migration_creates_every_table(db_url):
    tables = set(inspect(get_engine(db_url)).get_table_names())
    assert {
        "customers",
        "products",
        "carts",
        "cart_items",
        "cart_events",
        "orders",
        "payments",
        "payment_methods",
        "discount_codes",
        "discount_redemptions",
        "tickets",
        "alembic_version",
        "kick_form",
        "kick_kickers",
        "kick_events_seen",
        "telegram_seen_updates",
        "telegram_buttons",
    } <= tables


def test_seed_loads_whole_catalogue_and_demo_customers(session):
    assert session.scalar(select(func.count()).select_from(Product)) == len(load_catalogue())
    senders = set(session.scalars(select(Customer.sender_id)))
    assert senders == {"alice", "bob", "chloe", "dev", "emma", "frank"}
    assert session.get(Product, OUT_OF_STOCK_PRODUCT_ID).stock == 0
    assert session.get(DiscountCode, "EXPIRED15") is not None


def test_init_db_is_idempotent(db_url):
    assert init_db(db_url) is False
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 6
