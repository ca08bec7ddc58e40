"""FAISS vector index over product ids with in-place add, update and delete.

Vectors are unit-norm, so inner product equals cosine similarity. Below
:data:`HNSW_THRESHOLD` vectors the index is exact (``IndexFlatIP``); from there on it is
HNSW (Malkov & Yashunin 2018, ``IndexHNSWFlat`` with inner product), the threshold and
parameters chosen from ``bench/search_scale.py`` (see ``bot/search/README.md``).

Ids: FAISS stores vectors at internal positions 0..n-1; :class:`FaissIndex` keeps the
product id (and a fingerprint of the indexed text) of every position. Deleting a product
marks its position dead (HNSW graphs cannot remove nodes), updating it marks the old
position dead and appends the new vector; dead positions are excluded from every search by
an id selector and dropped by :meth:`FaissIndex.compact` once they exceed
:data:`COMPACT_FRACTION` of the index. Search never returns a dead position, a FAISS
placeholder (-1) or the same product twice.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np
from numpy.typing import NDArray

HNSW_THRESHOLD = 50_000
"""From this many vectors on, build HNSW instead of an exact flat index."""
HNSW_M = 32
"""HNSW neighbours per node."""
HNSW_EF_CONSTRUCTION = 80
"""HNSW candidate-list size while building."""
HNSW_EF_SEARCH = 96
"""HNSW candidate-list size while searching (raised to ``k`` when ``k`` is larger)."""
EXACT_SCAN_MAX = 20_000
"""A filtered search over at most this many candidates scores them all exactly."""
COMPACT_FRACTION = 0.2
"""Dead positions above this fraction of the index trigger :meth:`FaissIndex.compact`."""
SEARCH_THREADS = 1
"""OpenMP threads for one query. Measured on the shared 2-core machine (100k-vector HNSW):
2 threads gave p50 24 ms, 1 thread 0.11 ms; a single query gains nothing from threads."""


def _new_index(dim: int, n: int) -> faiss.Index:
    """An empty exact or HNSW inner-product index suited to ``n`` vectors."""
    if n < HNSW_THRESHOLD:
        return faiss.IndexFlatIP(dim)
    index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


class FaissIndex:
    """Product-id keyed FAISS index (see the module docstring).

    Args:
        dim: vector dimension (384 for all-MiniLM-L6-v2).
        expected: number of vectors about to be added; picks exact or HNSW.
    """

    def __init__(self, dim: int, expected: int = 0) -> None:
        self.dim = dim
        self.index = _new_index(dim, expected)
        self.labels = np.empty(0, dtype=np.int64)
        """Product id of each internal position, -1 where dead."""
        self.digests = np.empty(0, dtype=np.int64)
        """Fingerprint of the indexed text at each internal position."""
        self.slots: dict[int, int] = {}
        """Product id -> its live internal position."""

    @property
    def is_hnsw(self) -> bool:
        """Whether the index is approximate (HNSW) rather than exact."""
        return isinstance(self.index, faiss.IndexHNSWFlat)

    def __len__(self) -> int:
        """Number of live products."""
        return len(self.slots)

    def stored_digests(self) -> dict[int, int]:
        """``{product id: fingerprint of its indexed text}`` for every live product."""
        return {pid: int(self.digests[slot]) for pid, slot in self.slots.items()}

    def upsert(
        self, ids: Sequence[int], vectors: NDArray[np.float32], digests: Sequence[int]
    ) -> None:
        """Add products, replacing the vectors of ids already present.

        Args:
            ids: product ids, unique.
            vectors: shape ``(len(ids), dim)``, float32, unit norm.
            digests: fingerprint of each product's indexed text.
        """
        if len(ids) == 0:
            return
        self.remove([pid for pid in ids if pid in self.slots], compact=False)
        start = self.index.ntotal
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self.labels = np.concatenate([self.labels, np.asarray(ids, dtype=np.int64)])
        self.digests = np.concatenate([self.digests, np.asarray(digests, dtype=np.int64)])
        self.slots.update({int(pid): start + i for i, pid in enumerate(ids)})
        self._maybe_compact()

    def remove(self, ids: Sequence[int], compact: bool = True) -> None:
        """Delete products; unknown ids are ignored.

        Args:
            ids: product ids.
            compact: run :meth:`compact` when dead positions exceed the threshold.
        """
        for pid in ids:
            slot = self.slots.pop(int(pid), None)
            if slot is not None:
                self.labels[slot] = -1
        if compact:
            self._maybe_compact()

    def _maybe_compact(self) -> None:
        dead = self.index.ntotal - len(self.slots)
        if dead and dead > COMPACT_FRACTION * self.index.ntotal:
            self.compact()

    def compact(self) -> None:
        """Rebuild the FAISS structure from the live vectors (no re-embedding); also
        switches between exact and HNSW when the size crossed :data:`HNSW_THRESHOLD`."""
        live = np.flatnonzero(self.labels >= 0)
        vectors = self.index.reconstruct_batch(live) if len(live) else np.empty((0, self.dim))
        self.index = _new_index(self.dim, len(live))
        if len(live):
            self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self.labels = self.labels[live]
        self.digests = self.digests[live]
        self.slots = {int(pid): i for i, pid in enumerate(self.labels)}

    def search(
        self, query: NDArray[np.float32], k: int, allowed: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` products most similar to ``query``.

        Args:
            query: shape ``(dim,)``, float32, unit norm.
            k: number of results wanted (>= 1).
            allowed: restrict to these product ids (filters); ``None`` allows all.

        Returns:
            ``[(product id, cosine similarity)]``, best first, at most
            ``min(k, candidates)`` long, each product once.
        """
        if allowed is None:
            slots = None if len(self.slots) == self.index.ntotal else self._live_slots()
        else:
            slots = np.fromiter((self.slots[p] for p in allowed if p in self.slots), dtype=np.int64)
        candidates = len(self.slots) if slots is None else len(slots)
        if candidates == 0:
            return []
        faiss.omp_set_num_threads(SEARCH_THREADS)  # per calling thread in OpenMP
        k = min(k, candidates)
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        if slots is None and self.is_hnsw and k == candidates:
            slots = self._live_slots()
        if slots is not None and (candidates <= EXACT_SCAN_MAX or k == candidates):
            return self._exact_search(q[0], k, slots)
        return self._faiss_search(q, k, slots)

    def _exact_search(
        self, q: NDArray[np.float32], k: int, slots: NDArray[np.int64]
    ) -> list[tuple[int, float]]:
        """Score the vectors at internal ``slots`` exactly; ``k <= len(slots)``."""
        scores = self.index.reconstruct_batch(slots) @ q
        top = np.argpartition(-scores, k - 1)[:k] if k < len(slots) else np.arange(k)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.labels[slots[i]]), float(scores[i])) for i in top]

    def _live_slots(self) -> NDArray[np.int64]:
        return np.flatnonzero(self.labels >= 0)

    def _faiss_search(
        self, q: NDArray[np.float32], k: int, slots: NDArray[np.int64] | None
    ) -> list[tuple[int, float]]:
        """Search the FAISS structure, restricted to internal ``slots`` when given."""
        params = faiss.SearchParametersHNSW() if self.is_hnsw else faiss.SearchParameters()
        if self.is_hnsw:
            params.efSearch = max(HNSW_EF_SEARCH, k)
        selector = None if slots is None else faiss.IDSelectorBatch(slots)
        if selector is not None:
            params.sel = selector  # ``selector`` keeps the C++ object alive during search
        scores, positions = self.index.search(q, k, params=params)
        hits = []
        for score, pos in zip(scores[0], positions[0]):
            if pos >= 0 and self.labels[pos] >= 0:
                hits.append((int(self.labels[pos]), float(score)))
        return hits

    def save(self, path: Path) -> None:
        """Write ``<path>.faiss`` and ``<path>.npz`` atomically (temp file + rename).

        The ``.npz`` is written last, so its modification time marks a complete save.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_index = path.with_suffix(".faiss.tmp")
        faiss.write_index(self.index, str(tmp_index))
        os.replace(tmp_index, path.with_suffix(".faiss"))
        tmp_meta = path.with_suffix(".tmp.npz")
        np.savez(tmp_meta, labels=self.labels, digests=self.digests)
        os.replace(tmp_meta, path.with_suffix(".npz"))

    @staticmethod
    def saved_count(path: Path) -> int:
        """Live products in the index saved at ``path`` (0 when none was saved), read from
        the small ``.npz`` id map only."""
        try:
            with np.load(path.with_suffix(".npz")) as meta:
                return int(np.count_nonzero(meta["labels"] >= 0))
        except FileNotFoundError:
            return 0

    @classmethod
    def load(cls, path: Path) -> FaissIndex:
        """Read an index written by :meth:`save`.

        Raises:
            FileNotFoundError: when either file is missing.
        """
        index = faiss.read_index(str(path.with_suffix(".faiss")))
        with np.load(path.with_suffix(".npz")) as meta:
            labels, digests = meta["labels"], meta["digests"]
        if len(labels) != index.ntotal:
            raise FileNotFoundError(f"{path}: id map does not match the FAISS file")
        self = cls(index.d)
        self.index, self.labels, self.digests = index, labels, digests
        self.slots = {int(pid): i for i, pid in enumerate(labels) if pid >= 0}
        return self
