"""The storage contract every search backend fulfils (FAISS + FTS5, or pgvector)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from bot.search.documents import ProductDoc
from bot.search.types import SearchFilters

Ranked = list[tuple[int, float]]
"""``[(product id, score)]``, best first, each id once."""


class SearchBackend(Protocol):
    """Vector and full-text storage for the product catalogue."""

    def prepare(self, dim: int) -> None:
        """Create tables / load files for vectors of ``dim`` dimensions."""

    def stored_digests(self) -> dict[int, int]:
        """``{product id: fingerprint}`` of every product in the vector index."""

    def text_digests(self, model: str) -> dict[int, int]:
        """``{product id: fingerprint}`` of every product in the full-text index, computed
        from what that index holds as :meth:`ProductDoc.digest` ``(model)`` would be."""

    def counts(self) -> tuple[int, int]:
        """``(products in the vector index, products in the full-text index)``, read from
        storage without an embedding model (for health checks)."""

    def upsert(
        self, docs: Sequence[ProductDoc], vectors: NDArray[np.float32], digests: Sequence[int]
    ) -> None:
        """Index ``docs`` (vectors shape ``(len(docs), dim)``, unit norm), replacing old rows."""

    def delete(self, ids: Sequence[int]) -> None:
        """Remove products from both indexes; unknown ids are ignored."""

    def clear(self) -> None:
        """Remove every product from both indexes."""

    def knn(self, vector: NDArray[np.float32], k: int, filters: SearchFilters) -> Ranked:
        """Cosine nearest neighbours of a unit ``vector``; score = cosine similarity."""

    def text(self, query: str, k: int, filters: SearchFilters) -> Ranked:
        """Full-text matches of ``query``, best first."""
