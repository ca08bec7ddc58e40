"""The search entry point: ``search(query, k, mode, filters)`` over the shop catalogue.

:class:`SearchService` embeds products with :class:`~bot.search.embedder.Embedder`, keeps
the backend (FAISS + FTS5 on SQLite, pgvector + tsvector on PostgreSQL, chosen by the
database URL) in step with the ``products`` table, and answers queries in three modes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.config import database_url
from bot.search.backend import Ranked, SearchBackend
from bot.search.documents import ProductDoc, load_docs, product_rows
from bot.search.embedder import Embedder, get_embedder
from bot.search.fusion import hybrid_fusion
from bot.search.types import MODES, NO_FILTERS, Mode, SearchFilters, SearchHit, clean_query
from bot.store.db import get_engine
from bot.store.models import Product

MAX_K = 1000
"""Largest ``k`` :meth:`SearchService.search` serves; larger values are capped."""
RRF_DEPTH = 50
"""Hybrid mode fuses the top ``max(k, RRF_DEPTH)`` of each list."""


@dataclass(frozen=True)
class SyncReport:
    """What :meth:`SearchService.sync` changed: product counts embedded and removed."""

    embedded: int
    removed: int


def make_backend(engine: Engine) -> SearchBackend:
    """pgvector for a PostgreSQL engine, FAISS + FTS5 for SQLite."""
    if engine.dialect.name == "postgresql":
        from bot.search.pgvector_index import PgVectorBackend

        return PgVectorBackend(engine)
    from bot.search.sqlite_backend import FaissFtsBackend

    return FaissFtsBackend(engine)


class SearchService:
    """Catalogue search over one database.

    Args:
        engine: the shop database (must hold the ``products`` table).
        embedder: sentence embedder; default the process-wide one.
        backend: storage; default :func:`make_backend`.
    """

    def __init__(
        self,
        engine: Engine,
        embedder: Embedder | None = None,
        backend: SearchBackend | None = None,
    ) -> None:
        self.engine = engine
        self.embedder = embedder or get_embedder()
        self.backend = backend or make_backend(engine)
        self.backend.prepare(self.embedder.dim)
        self._write_lock = threading.Lock()

    def _digest(self, doc: ProductDoc) -> int:
        """Fingerprint of ``doc`` under this model: a new model or text means re-embedding."""
        return doc.digest(self.embedder.name)

    def _index(self, docs: Sequence[ProductDoc], progress: bool) -> None:
        if docs:
            vectors = self.embedder.embed([d.text for d in docs], progress=progress)
            self.backend.upsert(docs, vectors, [self._digest(d) for d in docs])

    def sync(self, progress: bool = False) -> SyncReport:
        """Bring both indexes back in step with the catalogue, whatever diverged.

        The vector index and the full-text index are compared with the catalogue each on
        its own (FAISS files and FTS5 rows live in different places: a re-created shop
        database keeps the files but loses the rows). A product missing from either index,
        or changed since either indexed it, is embedded and written to both again; an id
        present in either index but no longer in the catalogue is removed from both.

        Args:
            progress: show a tqdm bar while embedding.

        Returns:
            Counts of products embedded and removed.
        """
        with self._write_lock:
            with self.engine.connect() as conn:
                docs = load_docs(conn)
            vectors = self.backend.stored_digests()
            texts = self.backend.text_digests(self.embedder.name)
            stale = [d for d in docs
                     if vectors.get(d.id) != self._digest(d) or texts.get(d.id) != self._digest(d)]
            gone = sorted((set(vectors) | set(texts)) - {d.id for d in docs})
            self.backend.delete(gone)
            self._index(stale, progress)
            return SyncReport(embedded=len(stale), removed=len(gone))

    def rebuild(self, progress: bool = False) -> int:
        """Drop both indexes and embed the whole catalogue again.

        Returns:
            Number of products indexed.
        """
        with self._write_lock:
            self.backend.clear()
            with self.engine.connect() as conn:
                docs = load_docs(conn)
            self._index(docs, progress)
            return len(docs)

    def index_products(self, ids: Sequence[int]) -> None:
        """Add or update products ``ids`` (read from the ``products`` table) in both
        indexes; call after inserting or editing a product. Ids no longer in the table are
        removed."""
        with self._write_lock:
            with self.engine.connect() as conn:
                docs = load_docs(conn, ids)
            self.backend.delete(sorted(set(ids) - {d.id for d in docs}))
            self._index(docs, progress=False)

    def remove_products(self, ids: Sequence[int]) -> None:
        """Remove products ``ids`` from both indexes; call after deleting them."""
        with self._write_lock:
            self.backend.delete(list(ids))

    def search(
        self,
        query: str,
        k: int = 10,
        mode: Mode = "hybrid",
        filters: SearchFilters = NO_FILTERS,
    ) -> list[SearchHit]:
        """Rank catalogue products for ``query``.

        Args:
            query: free text; validated by :func:`~bot.search.types.clean_query`.
            k: number of results, >= 1; capped at :data:`MAX_K`.
            mode: ``knn`` (cosine similarity of embeddings), ``text`` (BM25 / ts_rank)
                or ``hybrid`` (weighted reciprocal rank fusion of both,
                :func:`~bot.search.fusion.hybrid_fusion`).
            filters: category, maximum price (US dollars) and in-stock restrictions.

        Returns:
            At most ``k`` hits, best first, each product once; fewer when fewer products
            match.

        Raises:
            InvalidQueryError: empty, whitespace-only, NUL-containing or overlong query.
            ValueError: ``k < 1`` or an unknown mode.
        """
        text = clean_query(query)
        if k < 1:
            raise ValueError("k must be at least 1")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        k = min(k, MAX_K)
        if mode == "knn":
            ranked = self._knn(text, k, filters)
        elif mode == "text":
            ranked = self.backend.text(text, k, filters)
        else:
            depth = max(k, RRF_DEPTH)
            knn = [pid for pid, _ in self._knn(text, depth, filters)]
            full_text = [pid for pid, _ in self.backend.text(text, depth, filters)]
            ranked = hybrid_fusion(knn, full_text)[:k]
        return self._hits(ranked)

    def _knn(self, text: str, k: int, filters: SearchFilters) -> Ranked:
        return self.backend.knn(self.embedder.embed_one(text), k, filters)

    def _hits(self, ranked: Ranked) -> list[SearchHit]:
        """Join ranked ids with their catalogue rows (ids deleted meanwhile are dropped)."""
        with self.engine.connect() as conn:
            rows = product_rows(conn, [pid for pid, _ in ranked])
        hits: list[SearchHit] = []
        for pid, score in ranked:
            row = rows.get(pid)
            if row is not None:
                hits.append(
                    SearchHit(
                        id=pid,
                        title=row.title,
                        category=row.category,
                        brand=row.brand,
                        price=float(row.price),
                        stock=int(row.stock),
                        score=score,
                        rank=len(hits) + 1,
                    )
                )
        return hits


@dataclass(frozen=True)
class IndexCounts:
    """Products in the catalogue and in each index (equal counts when in step)."""

    catalogue: int
    vectors: int
    text: int

    @property
    def in_sync(self) -> bool:
        """Whether both indexes hold as many products as the catalogue."""
        return self.catalogue == self.vectors == self.text


def index_counts(engine: Engine) -> IndexCounts:
    """Count the catalogue and both indexes of ``engine``'s database without loading the
    embedding model (a health check; :meth:`SearchService.sync` repairs a difference)."""
    with engine.connect() as conn:
        catalogue = int(conn.execute(select(func.count()).select_from(Product)).scalar_one())
    vectors, text = make_backend(engine).counts()
    return IndexCounts(catalogue, vectors, text)


@lru_cache(maxsize=4)
def _service_for(url: str) -> SearchService:
    service = SearchService(get_engine(url))
    service.sync()
    return service


def get_service() -> SearchService:
    """The process-wide service for ``$DATABASE_URL`` (synced with the catalogue on first
    use)."""
    return _service_for(database_url())


def search(
    query: str, k: int = 10, mode: Mode = "hybrid", filters: SearchFilters = NO_FILTERS
) -> list[SearchHit]:
    """Search the shop catalogue; see :meth:`SearchService.search`."""
    return get_service().search(query, k, mode, filters)
