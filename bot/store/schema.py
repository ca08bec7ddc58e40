"""Create or upgrade the shop database schema with Alembic and seed it.

``python -m bot.store.schema`` (also run by ``make run``) migrates ``$DATABASE_URL`` to
the newest revision and seeds an empty database with the demo data.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

from bot.config import database_url
from bot.store.db import session_scope
from bot.store.seed import seed

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
logger = logging.getLogger(__name__)


def alembic_config(url: str | None = None) -> Config:
    """Alembic configuration pointing at this package's migrations and ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url or database_url())
    return cfg


def upgrade(url: str | None = None) -> None:
    """Migrate the database at ``url`` (default ``$DATABASE_URL``) to the newest revision."""
    command.upgrade(alembic_config(url), "head")


def init_db(url: str | None = None) -> bool:
    """Migrate and, when empty, seed the database.

    Returns:
        ``True`` when demo data was inserted.
    """
    upgrade(url)
    with session_scope(url) as session:
        return seed(session)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    seeded = init_db()
    print(f"database ready at {database_url()} ({'seeded' if seeded else 'already seeded'})")
