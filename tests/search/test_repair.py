"""Sync repairs any divergence between the catalogue and either index (FAISS files beside
the database, FTS5 rows inside it), and the API's health route counts both against the
catalogue."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.api.app import create_app
from bot.config import PROJECT_ROOT
from bot.search.service import SearchService, index_counts
from bot.store.db import get_engine
from tests.search.conftest import seeded

CATALOGUE = 194


def health_search(shop_url: str) -> dict:
    response = TestClient(create_app()).get("/health")
    assert response.status_code == 200
    return response.json()["search"]


def sync_cli(shop_url: str) -> str:
    env = {**os.environ, "DATABASE_URL": shop_url, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run([sys.executable, "-m", "bot.search.cli", "sync"], env=env,
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_recreated_and_reseeded_database_is_repaired_by_sync(shop_url: str):
    assert health_search(shop_url) == {"catalogue": CATALOGUE, "vectors": CATALOGUE,
                                       "text": CATALOGUE, "in_sync": True}
    get_engine(shop_url).dispose()
    db = Path(make_url(shop_url).database)
    for leftover in db.parent.glob(db.name + "*"):  # shop.db, -wal, -shm; FAISS files stay
        leftover.unlink()
    seeded(shop_url)
    assert health_search(shop_url) == {"catalogue": CATALOGUE, "vectors": CATALOGUE,
                                       "text": 0, "in_sync": False}

    assert f"embedded {CATALOGUE} products, removed 0" in sync_cli(shop_url)
    service = SearchService(get_engine(shop_url))
    assert service.search("red lipstick", 1, "text")[0].title == "Red Lipstick"
    assert service.search("couch", 3, "knn")
    assert health_search(shop_url)["in_sync"] is True


def test_missing_extra_and_changed_rows_in_either_index_are_repaired(shop_url: str):
    engine = get_engine(shop_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM product_fts WHERE rowid = 5"))
        conn.execute(text("UPDATE product_fts SET title = 'Garden Hose' WHERE rowid = 6"))
        conn.execute(text("INSERT INTO product_fts (rowid, title, category, brand, tags, "
                          "description) VALUES (9999, 'Ghost Product', '', '', '', '')"))
    service = SearchService(engine)
    service.backend.index.remove([7])  # a vector lost from the FAISS files
    service.backend._save(service.backend.index)
    assert index_counts(engine).text == CATALOGUE  # one missing, one extra

    report = service.sync()
    assert (report.embedded, report.removed) == (3, 1)  # 5, 6, 7 re-indexed; 9999 dropped
    assert index_counts(engine).in_sync
    with engine.connect() as conn:
        assert conn.execute(text("SELECT rowid FROM product_fts WHERE product_fts MATCH "
                                 "'ghost OR hose'")).all() == []
        title = conn.execute(text("SELECT title FROM products WHERE id = 5")).scalar_one()
    assert 5 in [h.id for h in service.search(title, 3, "text")]
    assert service.sync().embedded == 0
