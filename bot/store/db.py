"""Engine and session factory for the shop database.

SQLite (the default) gets WAL journaling and a busy timeout so that the Rasa server,
the action server and the API service can share one file.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, declarative_base, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.elements import ColumnElement

from bot.config import database_url, settings

# SQLite stores Numeric as REAL; amounts here have 2 decimals and stay far below 2**53.
warnings.filterwarnings("ignore", message=".*does \\*not\\* support Decimal objects natively")

POOL_TIMEOUT_S = 10
"""Longest wait for a free pooled connection (seconds) before SQLAlchemy's ``TimeoutError``."""

Base = declarative_base()
"""Declarative base shared by every table of the project (shop, tickets, kicker form)."""


def get_engine(url: str | None = None) -> Engine:
    """Return the (cached) engine for ``url``, default :func:`bot.config.database_url`.

    ``$DATABASE_URL`` is read on every call, so a changed variable gets its own engine.

    Args:
        url: any SQLAlchemy URL; ``None`` reads ``$DATABASE_URL``.

    Returns:
        A SQLAlchemy 1.4 engine in 2.0 style (``future=True``).
    """
    return _engine_for(url or database_url())


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        # A pool of open connections: SQLAlchemy 1.4 opens a new SQLite connection per
        # session by default (NullPool), and each open repeats the PRAGMAs below.
        engine = create_engine(
            url,
            future=True,
            poolclass=QueuePool,
            pool_size=5,
            max_overflow=10,
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # Sized per process (``$TOUCHLINE_DB_POOL``): N Rasa servers, M action servers and the
    # API each hold their own pool, and PostgreSQL's max_connections (100 by default) is
    # shared by all; a checkout waits at most POOL_TIMEOUT_S, then fails (never a hang).
    size = settings().db_pool_size
    return create_engine(url, future=True, pool_pre_ping=True, pool_size=size,
                         max_overflow=size, pool_timeout=POOL_TIMEOUT_S)


def session_factory(url: str | None = None) -> sessionmaker:
    """A ``sessionmaker`` bound to :func:`get_engine` for ``url``."""
    return sessionmaker(bind=get_engine(url), future=True, expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """Open a session, commit on success, roll back on any exception.

    Args:
        url: database URL, default ``$DATABASE_URL`` / the SQLite file.

    Yields:
        An open :class:`sqlalchemy.orm.Session`.
    """
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_once(session: Session, table: Table, values: dict[str, Any],
                conflict_columns: list[str], where: ColumnElement | None = None) -> bool:
    """Insert a row unless it would violate the unique index over ``conflict_columns``.

    ``INSERT ... ON CONFLICT DO NOTHING`` (SQLite >= 3.24 and PostgreSQL), inside the
    session's transaction: a concurrent transaction inserting the same key makes this one
    wait (PostgreSQL: for the other's commit; SQLite: for the database write lock) and then
    insert nothing, so exactly one row exists whatever the interleaving. Column defaults
    of ``table`` apply as for any Core insert.

    Args:
        session: the open session whose transaction the insert joins.
        table: the table (``Model.__table__``).
        values: column name -> value of the new row.
        conflict_columns: the columns of the unique index or constraint that decides.
        where: the index's predicate, for a partial unique index (e.g. open rows only).

    Returns:
        ``True`` when the row was inserted, ``False`` when the key already existed.

    Raises:
        NotImplementedError: a database other than SQLite or PostgreSQL.
    """
    dialects = {"sqlite": sqlite, "postgresql": postgresql}
    name = session.get_bind().dialect.name
    if name not in dialects:
        raise NotImplementedError(f"insert_once does not support {name}")
    stmt = dialects[name].insert(table).values(**values).on_conflict_do_nothing(
        index_elements=conflict_columns, index_where=where
    )
    return session.execute(stmt).rowcount == 1


def reset_engines() -> None:
    """Forget every cached engine (as after a restart); the next call connects anew."""
    _engine_for.cache_clear()
