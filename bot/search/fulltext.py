"""Full-text search on SQLite: an FTS5 table ranked by BM25 (Robertson & Zaragoza 2009).

The virtual table ``product_fts`` (rowid = ``products.id``; columns title, category,
brand, tags, description) lives in the shop database and is kept in step with the
catalogue by :func:`fts_upsert` / :func:`fts_delete`. Text is tokenised by ``unicode61``
with diacritics removed and Porter stemming. A query matches products containing any of
its words (OR), so natural sentences still match; BM25 ranks those with more and rarer
words first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import column, literal_column, select, table, text
from sqlalchemy.engine import Connection

from bot.search.documents import ProductDoc, filter_clauses
from bot.search.types import SearchFilters
from bot.store.models import Product

FTS_TABLE = "product_fts"
COLUMN_WEIGHTS = (3.0, 2.0, 2.0, 2.0, 1.0)
"""BM25 weight of title, category, brand, tags, description (set a priori, not tuned)."""

_TOKEN = re.compile(r"\w+", re.UNICODE)


def query_terms(query: str) -> list[str]:
    """Lower-cased word tokens of ``query`` (letters, digits, underscore), in order, unique."""
    return list(dict.fromkeys(t.lower() for t in _TOKEN.findall(query)))


def match_expression(query: str) -> str | None:
    """FTS5 MATCH expression ``"w1" OR "w2" ...`` for ``query``; every token is quoted, so
    FTS5 operators typed by a user (``NEAR``, ``*``, ``:``) are plain words. ``None`` when
    the query has no word."""
    terms = query_terms(query)
    return " OR ".join(f'"{t}"' for t in terms) if terms else None


def ensure_fts(conn: Connection) -> None:
    """Create ``product_fts`` if missing."""
    conn.execute(
        text(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
            "title, category, brand, tags, description, "
            "tokenize = 'porter unicode61 remove_diacritics 2')"
        )
    )


def fts_delete(conn: Connection, ids: Sequence[int]) -> None:
    """Remove products ``ids`` from the FTS table (unknown ids are ignored)."""
    if ids:
        conn.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), [{"id": i} for i in ids])


def fts_upsert(conn: Connection, docs: Sequence[ProductDoc]) -> None:
    """Insert or replace the FTS rows of ``docs``."""
    fts_delete(conn, [d.id for d in docs])
    if docs:
        conn.execute(
            text(
                f"INSERT INTO {FTS_TABLE} (rowid, title, category, brand, tags, description) "
                "VALUES (:id, :title, :category, :brand, :tags, :description)"
            ),
            [
                {
                    "id": d.id,
                    "title": d.title,
                    "category": d.category,
                    "brand": d.brand,
                    "tags": d.tags,
                    "description": d.description,
                }
                for d in docs
            ],
        )


def fts_clear(conn: Connection) -> None:
    """Empty the FTS table."""
    conn.execute(text(f"DELETE FROM {FTS_TABLE}"))


def fts_ids(conn: Connection) -> set[int]:
    """Product ids present in the FTS table."""
    return set(conn.execute(text(f"SELECT rowid FROM {FTS_TABLE}")).scalars())


def fts_docs(conn: Connection) -> list[ProductDoc]:
    """Every FTS row as the :class:`ProductDoc` it was written from (to compare with the
    catalogue)."""
    rows = conn.execute(
        text(f"SELECT rowid, title, description, category, brand, tags FROM {FTS_TABLE}")
    )
    return [ProductDoc(int(rowid), *(value or "" for value in rest)) for rowid, *rest in rows]


def fts_count(conn: Connection) -> int:
    """Rows in the FTS table (0 when it does not exist yet)."""
    exists = conn.execute(
        text("SELECT 1 FROM sqlite_master WHERE name = :name"), {"name": FTS_TABLE}
    ).first()
    if not exists:
        return 0
    return int(conn.execute(text(f"SELECT count(*) FROM {FTS_TABLE}")).scalar_one())


def fts_search(
    conn: Connection, query: str, k: int, filters: SearchFilters
) -> list[tuple[int, float]]:
    """BM25-ranked products for ``query``.

    Args:
        conn: connection to the shop database.
        query: user text (validated by :func:`bot.search.types.clean_query`).
        k: maximum number of results.
        filters: category / price / stock restrictions, applied in the same SQL.

    Returns:
        ``[(product id, score)]`` best first; score is ``-bm25()`` (higher is better).
    """
    match = match_expression(query)
    if match is None:
        return []
    fts = table(FTS_TABLE, column("rowid"))
    weights = ", ".join(str(w) for w in COLUMN_WEIGHTS)
    score = literal_column(f"-bm25({FTS_TABLE}, {weights})").label("score")
    stmt = (
        select(Product.id, score)
        .select_from(fts.join(Product, Product.id == fts.c.rowid))
        .where(text(f"{FTS_TABLE} MATCH :match").bindparams(match=match))
        .where(*filter_clauses(filters))
        .order_by(score.desc(), Product.id)
        .limit(k)
    )
    return [(int(pid), float(s)) for pid, s in conn.execute(stmt)]
