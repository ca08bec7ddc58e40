"""Both backends: filters in every mode, and pgvector agreeing with FAISS."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import delete

from bot.search.service import SearchService
from bot.search.types import SearchFilters
from bot.store.db import session_scope
from bot.store.models import Product

QUERIES = [
    "marriage dress",
    "cellphone",
    "something to cook pasta",
    "perfume for men",
    "red lipstick",
    "laptop for work",
    "sunglases",
    "fresh fruit",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_service(request: pytest.FixtureRequest) -> SearchService:
    return request.getfixturevalue("service" if request.param == "sqlite" else "pg_service")


@pytest.mark.parametrize("mode", ["knn", "text", "hybrid"])
@pytest.mark.parametrize(
    "filters",
    [
        SearchFilters(categories=("womens-dresses", "tops")),
        SearchFilters(max_price=20.0),
        SearchFilters(in_stock=True),
        SearchFilters(categories=("beauty",), max_price=10.0, in_stock=True),
    ],
    ids=["category", "max_price", "in_stock", "all"],
)
def test_filters_hold_in_every_mode(
    backend_service: SearchService, mode: str, filters: SearchFilters
):
    seen = 0
    for query in ["dress", "red", "beauty mascara polish", "cheap gift"]:
        for hit in backend_service.search(query, 100, mode, filters):
            seen += 1
            if filters.categories:
                assert hit.category in filters.categories
            if filters.max_price is not None:
                assert hit.price <= filters.max_price
            if filters.in_stock:
                assert hit.stock > 0
    assert seen > 0


def test_in_stock_filter_drops_the_out_of_stock_item(backend_service: SearchService):
    # seed sets product 5 (Red Nail Polish) to stock 0
    assert 5 in [h.id for h in backend_service.search("red nail polish", 3, "hybrid")]
    kept = backend_service.search("red nail polish", 194, "hybrid", SearchFilters(in_stock=True))
    assert 5 not in [h.id for h in kept]


def test_filtered_knn_returns_all_matching_when_k_is_large(backend_service: SearchService):
    filters = SearchFilters(categories=("laptops",))
    hits = backend_service.search("computer", 50, "knn", filters)
    assert len(hits) == 5 == len({h.id for h in hits})


@pytest.mark.parametrize("query", QUERIES)
def test_pgvector_and_faiss_agree(service: SearchService, pg_service: SearchService, query: str):
    faiss_hits = service.search(query, 5, "knn")
    pg_hits = pg_service.search(query, 5, "knn")
    assert [h.id for h in faiss_hits] == [h.id for h in pg_hits]
    for a, b in zip(faiss_hits, pg_hits):
        assert a.score == pytest.approx(b.score, abs=1e-4)


def test_postgres_text_search_ranks_title_matches(pg_service: SearchService):
    assert pg_service.search("lipstick", 1, "text")[0].title == "Red Lipstick"


def test_pgvector_add_update_delete(pg_service: SearchService, pg_url: str):
    try:
        with session_scope(pg_url) as s:
            s.add(
                Product(
                    id=2000,
                    title="Ivory Lace Wedding Gown",
                    description="Bridal gown.",
                    category="womens-dresses",
                    price=Decimal("89"),
                    stock=2,
                    tags=[],
                )
            )
        pg_service.index_products([2000])
        assert pg_service.search("wedding gown", 1, "knn")[0].id == 2000
        assert pg_service.search("bridal", 1, "text")[0].id == 2000
        with session_scope(pg_url) as s:
            s.get(Product, 2000).title = "Trail Running Shoe"
            s.get(Product, 2000).description = "Lightweight running shoe."
        pg_service.index_products([2000])
        assert 2000 not in [h.id for h in pg_service.search("bridal", 50, "text")]
        assert pg_service.search("trail running shoe", 1, "hybrid")[0].id == 2000
    finally:
        with session_scope(pg_url) as s:
            s.execute(delete(Product).where(Product.id == 2000))
        pg_service.remove_products([2000])
    assert 2000 not in pg_service.backend.stored_digests()
    assert 2000 not in [h.id for h in pg_service.search("trail running shoe", 300, "knn")]
