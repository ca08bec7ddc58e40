"""Default backend: FAISS vectors in files beside the SQLite database, FTS5 inside it."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.engine import Engine

from bot.config import var_dir
from bot.search.backend import Ranked
from bot.search.documents import ProductDoc, matching_ids
from bot.search.faiss_index import FaissIndex
from bot.search.fulltext import (
    ensure_fts,
    fts_clear,
    fts_count,
    fts_delete,
    fts_docs,
    fts_search,
    fts_upsert,
)
from bot.search.types import SearchFilters


def index_path(engine: Engine) -> Path:
    """Where the FAISS files go: ``<db folder>/<db name>.products.{faiss,npz}`` for a SQLite
    file, ``var_dir()/memory.products.*`` for an in-memory database."""
    database = engine.url.database
    if database and database != ":memory:":
        db = Path(database)
        return db.with_name(f"{db.stem}.products")
    return var_dir() / "memory.products"


class FaissFtsBackend:
    """:class:`~bot.search.backend.SearchBackend` on SQLite FTS5 + a persisted
    :class:`~bot.search.faiss_index.FaissIndex`.

    Several processes (API, action server) may read: each reloads the FAISS files when
    their modification time changes. Catalogue writes should come from one process at a
    time (the shop's admin path or the ``bot.search.cli`` command).

    Args:
        engine: SQLAlchemy engine of the SQLite shop database.
        path: FAISS file stem; default :func:`index_path`.
    """

    def __init__(self, engine: Engine, path: Path | None = None) -> None:
        self.engine = engine
        self.path = path or index_path(engine)
        self.index: FaissIndex | None = None
        self._mtime = 0.0
        self._lock = threading.RLock()

    def _stamp(self) -> float:
        meta = self.path.with_suffix(".npz")
        return meta.stat().st_mtime if meta.exists() else 0.0

    def prepare(self, dim: int) -> None:
        """Create the FTS5 table and load (or start) the FAISS index of ``dim`` dimensions."""
        with self.engine.begin() as conn:
            ensure_fts(conn)
        with self._lock:
            self._mtime = self._stamp()
            try:
                self.index = FaissIndex.load(self.path)
            except (FileNotFoundError, RuntimeError):
                self.index = None
            if self.index is None or self.index.dim != dim:
                self.index = FaissIndex(dim)

    def _current(self) -> FaissIndex:
        """The index, reloaded first if another process saved a newer one."""
        with self._lock:
            if self.index is None:
                raise RuntimeError("call prepare() first")
            stamp = self._stamp()
            if stamp != self._mtime:
                self.index, self._mtime = FaissIndex.load(self.path), stamp
            return self.index

    def _save(self, index: FaissIndex) -> None:
        index.save(self.path)
        self._mtime = self._stamp()

    def stored_digests(self) -> dict[int, int]:
        """Fingerprints held by the FAISS index (files beside the database)."""
        return self._current().stored_digests()

    def text_digests(self, model: str) -> dict[int, int]:
        """Fingerprints of the FTS5 rows (inside the database), which can diverge from the
        FAISS files: a re-created database starts with an empty FTS table."""
        with self.engine.connect() as conn:
            return {doc.id: doc.digest(model) for doc in fts_docs(conn)}

    def counts(self) -> tuple[int, int]:
        """Live vectors in the saved FAISS files and rows in the FTS table."""
        with self.engine.connect() as conn:
            text_rows = fts_count(conn)
        return FaissIndex.saved_count(self.path), text_rows

    def upsert(
        self, docs: Sequence[ProductDoc], vectors: NDArray[np.float32], digests: Sequence[int]
    ) -> None:
        """Write FTS rows (committed first), then FAISS vectors, then save the files."""
        with self._lock:
            index = self._current()
            with self.engine.begin() as conn:
                fts_upsert(conn, docs)
            index.upsert([d.id for d in docs], vectors, digests)
            self._save(index)

    def delete(self, ids: Sequence[int]) -> None:
        """Remove ``ids`` from FTS and FAISS."""
        with self._lock:
            index = self._current()
            with self.engine.begin() as conn:
                fts_delete(conn, ids)
            index.remove(ids)
            self._save(index)

    def clear(self) -> None:
        """Empty both indexes (the FAISS index keeps its dimension)."""
        with self._lock:
            dim = self._current().dim
            with self.engine.begin() as conn:
                fts_clear(conn)
            self.index = FaissIndex(dim)
            self._save(self.index)

    def knn(self, vector: NDArray[np.float32], k: int, filters: SearchFilters) -> Ranked:
        """FAISS search; with filters, restricted to the ids the SQL filter lets through."""
        allowed = None
        if filters.active:
            with self.engine.connect() as conn:
                allowed = matching_ids(conn, filters)
        return self._current().search(vector, k, allowed)

    def text(self, query: str, k: int, filters: SearchFilters) -> Ranked:
        """FTS5 BM25 search."""
        with self.engine.connect() as conn:
            return fts_search(conn, query, k, filters)
