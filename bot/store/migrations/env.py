"""Alembic environment: migrates the database at ``$DATABASE_URL`` (or the SQLite default)."""

from __future__ import annotations

from alembic import context

import bot.store.models  # noqa: F401  (every table of the project)
from bot.store.db import Base, get_engine

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    """Run migrations online against the configured engine (SQLite uses batch mode)."""
    url = config.get_main_option("sqlalchemy.url") or None
    engine = get_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
