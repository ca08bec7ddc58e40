"""Does the catalogue have anything for a query? A relevance floor for the chat.

The hybrid ranking (reciprocal rank fusion) scores ranks, not relevance: its best hit is
"the nearest item" even when nothing is near. The chat therefore asks a second question,
how similar the closest product is: the cosine similarity of the query's embedding to the
nearest product (k-NN, with the query's filters), after misspelt words are replaced by the
closest catalogue word ("perfum" -> "perfume"), since a typo lowers the similarity much
more than it lowers what the shopper meant. Below :data:`RELEVANCE_FLOOR` the chat says it
found nothing.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

from sqlalchemy import func, select

from bot.search.documents import load_docs
from bot.search.service import SearchService
from bot.search.types import InvalidQueryError, SearchFilters
from bot.store.models import Product

RELEVANCE_FLOOR = 0.24
"""Least cosine similarity of the nearest product for a query to count as found. Chosen by
``bench/search_floor.py`` on the 120 development queries of ``bench/data/search_dev.jsonl``
(every one has relevant products; each is scored without its money phrase, as the chat
searches; the lowest, "drain pasta", scores 0.254) and the 30
hand-written queries of ``bench/data/search_nothing.txt`` the catalogue has nothing for:
one step (0.01) below the highest floor, in steps of 0.01, that keeps every development
query. It catches a third of the nothing-queries (0.25 would catch 40%, 0.30 half of them
but lose 3% of the development queries)."""

SPELLING_CUTOFF = 0.8
"""``difflib`` similarity ratio from which an unknown word is read as a catalogue word."""

_WORD = re.compile(r"[a-z]+")


@lru_cache(maxsize=4)
def _vocabulary(url: str, products: int) -> frozenset[str]:
    """Words of the catalogue's titles, categories, brands and tags (cached per database
    and catalogue size)."""
    from bot.store.db import get_engine

    with get_engine(url).connect() as conn:
        docs = load_docs(conn)
    text = " ".join(f"{d.title} {d.category} {d.brand} {d.tags}" for d in docs).lower()
    return frozenset(w for w in _WORD.findall(text) if len(w) > 2)


def catalogue_words(service: SearchService) -> frozenset[str]:
    """The catalogue vocabulary of ``service``'s database (see :func:`_vocabulary`)."""
    with service.engine.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(Product)).scalar_one())
    return _vocabulary(service.engine.url.render_as_string(hide_password=False), count)


def corrected(query: str, vocabulary: frozenset[str]) -> str:
    """``query`` with each word of four letters or more that the catalogue does not use
    replaced by the closest catalogue word, when one is close enough
    (:data:`SPELLING_CUTOFF`); other words unchanged."""
    words = []
    for word in query.lower().split():
        if len(word) >= 4 and word.isalpha() and word not in vocabulary:
            close = difflib.get_close_matches(word, vocabulary, n=1, cutoff=SPELLING_CUTOFF)
            word = close[0] if close else word
        words.append(word)
    return " ".join(words)


def relevance(service: SearchService, query: str, filters: SearchFilters) -> float:
    """Cosine similarity of the nearest product to the spelling-corrected query.

    Args:
        service: the search service.
        query: the query text the chat searches for.
        filters: the same filters as the search.

    Returns:
        A similarity in [-1, 1]; -1 when no product passes the filters or the query has no
        words.
    """
    try:
        hits = service.search(corrected(query, catalogue_words(service)), 1, "knn", filters)
    except InvalidQueryError:
        return -1.0
    return hits[0].score if hits else -1.0
