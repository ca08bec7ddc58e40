"""Fixtures: a seeded SQLite catalogue indexed once per session (copied per test), and a
real PostgreSQL 16 + pgvector from ``pgserver`` holding the same catalogue."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.search.service import SearchService  # noqa: E402
from bot.store.db import get_engine, session_scope  # noqa: E402
from bot.store.schema import upgrade  # noqa: E402
from bot.store.seed import seed_products  # noqa: E402

if TYPE_CHECKING:
    from tests.conftest import Env


def seeded(url: str) -> None:
    """Create every table at ``url`` and load the shipped catalogue."""
    upgrade(url)
    with session_scope(url) as session:
        seed_products(session)


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with shop.db (seeded) and its FAISS files, indexed once."""
    folder = tmp_path_factory.mktemp("template")
    url = f"sqlite:///{folder / 'shop.db'}"
    seeded(url)
    SearchService(get_engine(url)).sync()
    get_engine(url).dispose()
    return folder


@pytest.fixture
def shop_url(template_dir: Path, tmp_path: Path, env: Env) -> str:
    """A private copy of the indexed SQLite catalogue; ``$DATABASE_URL`` points at it."""
    for item in template_dir.iterdir():
        shutil.copy(item, tmp_path / item.name)
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    env.set("DATABASE_URL", url)
    env.set("TOUCHLINE_VAR", str(tmp_path / "var"))
    return url


@pytest.fixture
def service(shop_url: str) -> SearchService:
    """FAISS + FTS5 service over the private copy."""
    return SearchService(get_engine(shop_url))


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of a real PostgreSQL 16 with pgvector 0.6 holding the seeded catalogue."""
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="delete")
    url = server.get_uri()
    seeded(url)
    yield url
    get_engine(url).dispose()
    server.cleanup()


@pytest.fixture(scope="session")
def pg_service(pg_url: str) -> SearchService:
    """pgvector + tsvector service, synced once."""
    svc = SearchService(get_engine(pg_url))
    svc.sync()
    return svc
