"""``GET /search``: catalogue search, and ``/search/ui``: k-NN vs full-text side by side."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel

from bot.search import InvalidQueryError, SearchFilters, get_service
from bot.search.types import MAX_QUERY_CHARS

router = APIRouter(tags=["search"])

API_MAX_K = 100
"""Largest ``k`` the API serves; larger values are capped to it."""
STATIC = Path(__file__).resolve().parent.parent / "static" / "search"
UI_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
}


class SearchResult(BaseModel):
    """One ranked product; ``score`` depends on ``mode`` (see ``bot.search.SearchHit``)."""

    id: int
    title: str
    category: str
    brand: str | None
    price: float
    stock: int
    score: float
    rank: int


class SearchResponse(BaseModel):
    """The query as searched (stripped), the mode, the ``k`` served and the results."""

    query: str
    mode: str
    k: int
    results: list[SearchResult]


def _unprocessable(field: str, message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors."""
    return HTTPException(
        status_code=422, detail=[{"loc": ["query", field], "msg": message, "type": "value_error"}]
    )


@router.get("/search", response_model=SearchResponse)
def search_products(
    q: str = Query(..., max_length=MAX_QUERY_CHARS, description="free-text query"),
    k: int = Query(10, ge=1, description=f"results wanted; capped at {API_MAX_K}"),
    mode: Literal["knn", "text", "hybrid"] = Query("hybrid"),
    category: list[str] | None = Query(None, description="category slug; repeat for several"),
    max_price: float | None = Query(None, ge=0, description="US dollars, inclusive"),
    in_stock: bool = Query(False, description="only products with stock > 0"),
) -> SearchResponse:
    """Ranked products for ``q``.

    Empty, whitespace-only or letterless queries, NUL bytes, ``k <= 0`` and non-finite
    prices are answered with 422; ``k`` above the catalogue size returns every matching
    product once.
    """
    if max_price is not None and not math.isfinite(max_price):
        raise _unprocessable("max_price", "must be a finite number")
    filters = SearchFilters(
        categories=tuple(category or ()), max_price=max_price, in_stock=in_stock
    )
    served_k = min(k, API_MAX_K)
    try:
        hits = get_service().search(q, served_k, mode, filters)
    except InvalidQueryError as exc:
        raise _unprocessable("q", str(exc)) from exc
    return SearchResponse(
        query=q.strip(),
        mode=mode,
        k=served_k,
        results=[SearchResult(**h.as_dict()) for h in hits],
    )


@router.get("/search/ui", include_in_schema=False)
def search_page() -> FileResponse:
    """The comparison page (static HTML; results are inserted with ``textContent``)."""
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=UI_HEADERS)


@router.get("/search/ui/search.js", include_in_schema=False)
def search_script() -> FileResponse:
    """The page's script."""
    return FileResponse(STATIC / "search.js", media_type="text/javascript", headers=UI_HEADERS)
