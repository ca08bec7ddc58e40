"""SearchService on the default backend (SQLite FTS5 + FAISS files): ranking sanity,
catalogue changes without a rebuild, persistence, the rebuild CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest
from sqlalchemy import delete, update

from bot.config import PROJECT_ROOT
from bot.search.service import SearchService
from bot.search.types import InvalidQueryError
from bot.store.db import get_engine, session_scope
from bot.store.models import Product


def ids(hits: list) -> list[int]:
    return [h.id for h in hits]


def test_semantic_query_finds_what_keywords_miss(service: SearchService):
    assert service.search("couch", 5, "text") == []
    assert "Annibale Colombo Sofa" in [h.title for h in service.search("couch", 3, "knn")]
    assert "Annibale Colombo Sofa" in [h.title for h in service.search("couch", 3, "hybrid")]


def test_hits_are_ranked_and_complete(service: SearchService):
    hits = service.search("red lipstick", 5, "hybrid")
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert hits[0].title == "Red Lipstick"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize("mode", ["knn", "hybrid"])
def test_k_above_catalogue_returns_every_product_once(service: SearchService, mode: str):
    hits = service.search("phone", 5000, mode)
    assert len(hits) == 194 == len(set(ids(hits)))


@pytest.mark.parametrize("bad", ["", "  ", "\x00", "\x00phone"])
@pytest.mark.parametrize("mode", ["knn", "text", "hybrid"])
def test_invalid_queries_raise(service: SearchService, bad: str, mode: str):
    with pytest.raises(InvalidQueryError):
        service.search(bad, 5, mode)


def test_add_update_delete_without_rebuild(service: SearchService, shop_url: str):
    with session_scope(shop_url) as s:
        s.add(
            Product(
                id=1000,
                title="Ivory Lace Wedding Gown",
                description="A bridal gown.",
                category="womens-dresses",
                price=Decimal("89.00"),
                stock=3,
                tags=[],
            )
        )
    service.index_products([1000])
    assert service.search("wedding gown", 1, "knn")[0].id == 1000
    assert service.search("bridal", 1, "text")[0].id == 1000

    with session_scope(shop_url) as s:
        s.execute(
            update(Product)
            .where(Product.id == 1000)
            .values(title="Trail Running Shoe", description="Lightweight shoe for running.")
        )
    service.index_products([1000])
    assert 1000 not in ids(service.search("bridal", 10, "text"))
    assert 1000 not in ids(service.search("wedding gown", 5, "knn"))
    assert service.search("trail running shoe", 1, "hybrid")[0].id == 1000

    with session_scope(shop_url) as s:
        s.execute(delete(Product).where(Product.id == 1000))
    service.remove_products([1000])
    for mode in ("knn", "text", "hybrid"):
        assert 1000 not in ids(service.search("trail running shoe", 200, mode))
    assert 1000 not in service.backend.stored_digests()


def test_sync_picks_up_out_of_band_edits_and_reload_needs_no_embedding(shop_url: str):
    engine = get_engine(shop_url)
    writer = SearchService(engine)
    reader = SearchService(engine)  # a second process' view of the same files
    assert writer.sync().embedded == 0
    with session_scope(shop_url) as s:
        s.execute(update(Product).where(Product.id == 12).values(title="Chesterfield Couch"))
        s.execute(delete(Product).where(Product.id == 13))
    report = writer.sync()
    assert (report.embedded, report.removed) == (1, 1)
    assert reader.search("chesterfield", 1, "text")[0].id == 12
    assert 13 not in ids(reader.search("bed", 200, "knn"))


def test_rebuild_cli(shop_url: str):
    env = {**os.environ, "DATABASE_URL": shop_url, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bot.search.cli", "rebuild"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "indexed 194 products" in done.stdout
    assert "embedding" in done.stderr  # tqdm progress bar
    hits = SearchService(get_engine(shop_url)).search("smartphone", 3, "knn")
    assert all(h.category == "smartphones" for h in hits)
