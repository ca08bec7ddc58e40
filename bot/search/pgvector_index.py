"""PostgreSQL backend: pgvector HNSW (cosine) for k-NN, ``tsvector`` for full text.

Table ``product_search`` (product_id -> products.id ON DELETE CASCADE, embedding
``vector(dim)``, document ``tsvector`` weighted A title, B category and tags, C brand,
D description, digest ``bigint``) with an HNSW index (``vector_cosine_ops``) and a GIN
index. Chosen when ``$DATABASE_URL`` points at PostgreSQL; needs the ``vector``
extension (pgvector >= 0.5 for HNSW).

Filtered k-NN and very large ``k`` use an exact scan: pgvector 0.6 filters after the
HNSW scan, which can return fewer than ``k`` rows, so the index serves unfiltered
queries only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR, insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from bot.search.backend import Ranked
from bot.search.documents import ProductDoc, filter_clauses
from bot.search.fulltext import query_terms
from bot.search.types import SearchFilters
from bot.store.models import Product

TABLE = "product_search"
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
EF_SEARCH_MIN = 100
"""``hnsw.ef_search`` used for unfiltered queries: ``max(EF_SEARCH_MIN, 2 k)``."""
EXACT_K = 500
"""From this ``k`` on, k-NN scans exactly (``hnsw.ef_search`` is at most 1000)."""
TS_CONFIG = "english"


def _table(dim: int) -> Table:
    meta = MetaData()
    table = Table(
        TABLE,
        meta,
        Column(
            "product_id",
            Integer,
            ForeignKey(Product.__table__.c.id, ondelete="CASCADE"),
            primary_key=True,
        ),
        Column("embedding", Vector(dim), nullable=False),
        Column("document", TSVECTOR, nullable=False),
        Column("digest", BigInteger, nullable=False),
    )
    Index(
        f"{TABLE}_embedding_hnsw",
        table.c.embedding,
        postgresql_using="hnsw",
        postgresql_with={"m": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION},
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    Index(f"{TABLE}_document_gin", table.c.document, postgresql_using="gin")
    return table


def _document(doc: ProductDoc) -> ColumnElement:
    """Weighted ``tsvector`` SQL expression for ``doc``."""

    def part(value: str, weight: str) -> ColumnElement:
        return func.setweight(func.to_tsvector(TS_CONFIG, value), weight)

    return (
        part(doc.title, "A")
        .op("||")(part(f"{doc.category} {doc.tags}", "B"))
        .op("||")(part(doc.brand, "C"))
        .op("||")(part(doc.description, "D"))
    )


class PgVectorBackend:
    """:class:`~bot.search.backend.SearchBackend` on PostgreSQL + pgvector.

    Args:
        engine: SQLAlchemy engine of a PostgreSQL database holding ``products``.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.table: Table | None = None

    def prepare(self, dim: int) -> None:
        """Create the extension, table and indexes; recreate the table if its vector
        dimension differs from ``dim`` (a different embedding model)."""
        with self.engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            if inspect(conn).has_table(TABLE) and self._stored_dim(conn) != dim:
                conn.execute(text(f"DROP TABLE {TABLE}"))
            self.table = _table(dim)
            self.table.metadata.create_all(conn)

    @staticmethod
    def _stored_dim(conn: Connection) -> int:
        return int(
            conn.execute(
                text(
                    "SELECT atttypmod FROM pg_attribute "
                    "WHERE attrelid = CAST(:t AS regclass) AND attname = 'embedding'"
                ),
                {"t": TABLE},
            ).scalar_one()
        )

    def _t(self) -> Table:
        if self.table is None:
            raise RuntimeError("call prepare() first")
        return self.table

    def stored_digests(self) -> dict[int, int]:
        """``{product id: digest}`` from ``product_search``."""
        t = self._t()
        with self.engine.connect() as conn:
            return dict(conn.execute(select(t.c.product_id, t.c.digest)).all())

    def text_digests(self, model: str) -> dict[int, int]:
        """The same as :meth:`stored_digests`: the ``tsvector`` lives in the vector's row,
        written with it in one statement."""
        return self.stored_digests()

    def counts(self) -> tuple[int, int]:
        """Rows of ``product_search`` (0 before :meth:`prepare` made it), twice: each holds
        both the vector and the text."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table(TABLE):
                return 0, 0
            rows = int(conn.execute(text(f"SELECT count(*) FROM {TABLE}")).scalar_one())
        return rows, rows

    def upsert(
        self, docs: Sequence[ProductDoc], vectors: NDArray[np.float32], digests: Sequence[int]
    ) -> None:
        """``INSERT ... ON CONFLICT DO UPDATE`` one row per product, in one transaction."""
        t = self._t()
        with self.engine.begin() as conn:
            for doc, vector, digest in zip(docs, vectors, digests):
                stmt = insert(t).values(
                    product_id=doc.id,
                    embedding=vector,
                    document=_document(doc),
                    digest=int(digest),
                )
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[t.c.product_id],
                        set_={c: stmt.excluded[c] for c in ("embedding", "document", "digest")},
                    )
                )

    def delete(self, ids: Sequence[int]) -> None:
        """Delete the rows of ``ids``."""
        t = self._t()
        with self.engine.begin() as conn:
            conn.execute(t.delete().where(t.c.product_id.in_(list(ids))))

    def clear(self) -> None:
        """Delete every row."""
        t = self._t()
        with self.engine.begin() as conn:
            conn.execute(t.delete())

    def knn(self, vector: NDArray[np.float32], k: int, filters: SearchFilters) -> Ranked:
        """Cosine k-NN: HNSW for unfiltered ``k < EXACT_K``, exact scan otherwise; score is
        ``1 - cosine distance`` = cosine similarity."""
        t = self._t()
        distance = t.c.embedding.cosine_distance(np.asarray(vector, dtype=np.float32))
        stmt = (
            select(t.c.product_id, (1 - distance).label("score"))
            .join(Product, Product.id == t.c.product_id)
            .where(*filter_clauses(filters))
            .order_by(distance, t.c.product_id)
            .limit(k)
        )
        with self.engine.begin() as conn:
            if filters.active or k >= EXACT_K:
                conn.execute(text("SET LOCAL enable_indexscan = off"))
            else:
                conn.execute(text(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH_MIN, 2 * k)}"))
            return [(int(pid), float(score)) for pid, score in conn.execute(stmt)]

    def text(self, query: str, k: int, filters: SearchFilters) -> Ranked:
        """PostgreSQL full-text search: any query word (OR) matches, ranked by ``ts_rank``."""
        terms = query_terms(query)
        if not terms:
            return []
        t = self._t()
        tsquery = func.to_tsquery(TS_CONFIG, " | ".join(terms))
        score = func.ts_rank(t.c.document, tsquery).label("score")
        stmt = (
            select(t.c.product_id, score)
            .join(Product, Product.id == t.c.product_id)
            .where(t.c.document.op("@@")(tsquery), *filter_clauses(filters))
            .order_by(score.desc(), t.c.product_id)
            .limit(k)
        )
        with self.engine.connect() as conn:
            return [(int(pid), float(s)) for pid, s in conn.execute(stmt)]
