"""Value types shared by every search module: filters, hits, modes and query validation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["knn", "text", "hybrid"]
"""``knn``: cosine k-nearest neighbours of the sentence embedding; ``text``: full-text
(BM25 on SQLite FTS5, ``ts_rank`` on PostgreSQL); ``hybrid``: weighted reciprocal rank
fusion of both (:func:`bot.search.fusion.hybrid_fusion`)."""

MODES: tuple[str, ...] = ("knn", "text", "hybrid")

MAX_QUERY_CHARS = 512
"""Longest query accepted, in characters (the model reads at most 256 word pieces anyway)."""

_WORD = re.compile(r"[^\W_]", re.UNICODE)
"""A letter or digit (``\\w`` without the underscore: ``q=_`` is no query)."""


class InvalidQueryError(ValueError):
    """The query cannot be searched: empty, whitespace only, no letters or digits, a NUL
    byte, or longer than :data:`MAX_QUERY_CHARS`. The API answers it with HTTP 422."""


def clean_query(query: str) -> str:
    """Validate a user query and return it stripped.

    Args:
        query: raw text from the API, the chat or the CLI.

    Returns:
        The query without surrounding whitespace.

    Raises:
        InvalidQueryError: for the cases listed on :class:`InvalidQueryError`, so that no
            caller ever gets an arbitrary top-k for a query that says nothing (replay R14).
    """
    if "\x00" in query:
        raise InvalidQueryError("query contains a NUL byte")
    text = query.strip()
    if not _WORD.search(text):
        raise InvalidQueryError("query has no letters or digits")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidQueryError(f"query is longer than {MAX_QUERY_CHARS} characters")
    return text


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions applied inside every mode (before ranking, not after).

    Attributes:
        categories: catalogue category slugs (e.g. ``"womens-dresses"``); a product
            matches if its category is any of them; empty means every category.
        max_price: highest price in US dollars, inclusive; ``None`` means no limit.
        in_stock: ``True`` keeps only products with ``stock > 0``; ``False`` keeps all.
    """

    categories: tuple[str, ...] = field(default_factory=tuple)
    max_price: float | None = None
    in_stock: bool = False

    @property
    def active(self) -> bool:
        """Whether any restriction is set."""
        return bool(self.categories) or self.max_price is not None or self.in_stock


NO_FILTERS = SearchFilters()


@dataclass(frozen=True)
class SearchHit:
    """One ranked product.

    Attributes:
        id: ``products.id``.
        title, category, brand: catalogue fields (``brand`` may be ``None``).
        price: US dollars.
        stock: units in stock.
        score: ``knn``: cosine similarity in [-1, 1]; ``text``: BM25 (SQLite, higher is
            better) or ``ts_rank`` (PostgreSQL); ``hybrid``: weighted reciprocal-rank-fusion
            score.
        rank: 1-based position in the result list.
    """

    id: int
    title: str
    category: str
    brand: str | None
    price: float
    stock: int
    score: float
    rank: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready dictionary of every field."""
        return {
            "id": self.id,
            "title": self.title,
            "category": self.category,
            "brand": self.brand,
            "price": self.price,
            "stock": self.stock,
            "score": self.score,
            "rank": self.rank,
        }
