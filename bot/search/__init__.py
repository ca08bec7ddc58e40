"""Semantic product search: sentence-embedding k-NN, full text and their fusion.

``from bot.search import search`` is the entry point; see ``bot/search/README.md``.
"""

from bot.search.service import SearchService, get_service, search
from bot.search.types import InvalidQueryError, SearchFilters, SearchHit

__all__ = [
    "InvalidQueryError",
    "SearchFilters",
    "SearchHit",
    "SearchService",
    "get_service",
    "search",
]
