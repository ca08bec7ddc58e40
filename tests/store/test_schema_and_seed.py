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


CHECK_MODELS_MATCH_MIGRATIONS = """
import sys
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
import bot.store.models  # the only import: every table must be registered by it
from bot.store.db import Base, get_engine
with get_engine(sys.argv[1]).connect() as conn:
    diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
print(repr(diff))
sys.exit(1 if diff else 0)
"""


def test_store_models_alone_describe_the_migrated_schema(db_url):
    """A fresh interpreter that imports only ``bot.store.models`` knows every migrated
    table: no feature or channel module has to be imported to register one."""
    import subprocess
    import sys

    from bot.config import PROJECT_ROOT

    done = subprocess.run([sys.executable, "-c", CHECK_MODELS_MATCH_MIGRATIONS, db_url],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
