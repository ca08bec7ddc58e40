"""Fixtures shared by the whole suite: a real, migrated and seeded SQLite shop database."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def db_url(tmp_path, monkeypatch) -> str:
    """A fresh SQLite file migrated with Alembic and seeded; ``$DATABASE_URL`` points at it."""
    from bot.store.schema import init_db

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    init_db(url)
    return url


@pytest.fixture
def session(db_url):
    """An open session on :func:`db_url` (committed at the end of the test)."""
    from bot.store.db import session_scope

    with session_scope(db_url) as s:
        yield s


@pytest.fixture(scope="session")
def engines():
    """The default speech engines (Whisper tiny.en and Piper joe), loaded once."""
    from bot.speech.engines import shared_engines

    return shared_engines()
