"""Fixtures shared by the whole suite: a real, migrated and seeded SQLite shop database,
and the assistant's model trained once per run."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock

from bot.config import settings

SERVER_FIXTURES = {"stack", "live_server", "live_api", "pg_admin_url", "pg_db_url"}
"""Fixtures that start a server (Rasa and action servers, uvicorn on a port, PostgreSQL)
or serve a page to a browser: tests using them are marked ``servers``."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``servers`` every test that uses a :data:`SERVER_FIXTURES` fixture or runs on
    PostgreSQL (``any_db_url[postgresql]``); ``make test-fast`` leaves them and the
    ``slow`` tests out, ``make test`` runs everything."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("any_db_url") == "postgresql"
        if on_postgres or SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)


@pytest.fixture(autouse=True)
def _settings_read_per_test() -> Iterator[None]:
    """``bot.config.settings()`` reads the environment once per process: every test starts
    and ends with it unread, so the environment a test sets up is the one it sees."""
    settings.cache_clear()
    yield
    settings.cache_clear()


class Env:
    """Environment changes for one test, undone after it; ``bot.config.settings()`` is
    read again after each change."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch

    def set(self, name: str, value: str) -> None:
        """Set ``$name`` to ``value``."""
        self._monkeypatch.setenv(name, value)
        settings.cache_clear()

    def unset(self, name: str) -> None:
        """Remove ``$name`` (no error when it is not set)."""
        self._monkeypatch.delenv(name, raising=False)
        settings.cache_clear()


@pytest.fixture
def env(monkeypatch) -> Env:
    """Set or unset environment variables for this test (see :class:`Env`)."""
    return Env(monkeypatch)


@pytest.fixture
def db_url(tmp_path, env) -> str:
    """A fresh SQLite file migrated with Alembic and seeded; ``$DATABASE_URL`` points at it."""
    from bot.store.schema import init_db

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    env.set("DATABASE_URL", url)
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


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory) -> str:
    """URL of a PostgreSQL server's ``postgres`` database: the one at 127.0.0.1:5432 when it
    answers, else a throwaway ``pgserver`` started for this test session."""
    import sqlalchemy as sa

    url = "postgresql://postgres@127.0.0.1:5432/postgres"
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        yield url
        return
    except sa.exc.OperationalError:
        pass
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture
def pg_db_url(pg_admin_url, env) -> str:
    """A throwaway PostgreSQL database, migrated and seeded; ``$DATABASE_URL`` points at
    it. Dropped after the test."""
    import uuid

    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from bot.store.db import get_engine
    from bot.store.schema import init_db

    name = f"touchline_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    env.set("DATABASE_URL", url)
    init_db(url)
    yield url
    get_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request) -> str:
    """The seeded shop database on SQLite and on PostgreSQL (one test run each)."""
    return request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_db_url")


@pytest.fixture(scope="session")
def kick_model(tmp_path_factory) -> tuple[str, Path]:
    """``(database URL, models folder)`` of a small kick model trained once per session with
    :mod:`bot.kicks.train` (6,000 simulated kicks, default parameters: seconds). Serving
    never trains, so every test that needs a model uses this or trains its own."""
    from bot.kicks.train import TrainConfig, train

    folder = tmp_path_factory.mktemp("kick_model")
    url, root = f"sqlite:///{folder / 'shop.db'}", folder / "models"
    train(TrainConfig(n_kicks=6000, trials=0, folds=2, database_url=url, models_root=root,
                      progress=False))
    return url, root


@pytest.fixture(scope="session")
def model(tmp_path_factory, worker_id):
    """The assistant's model trained from the project's data and config
    (:func:`testing.stack.train_project_model`), once per test run: with ``pytest -n``
    (``make test``) the first worker to need it trains it, under a file lock, in the
    run's temporary folder that all workers share, and the others wait for it."""
    from testing.stack import train_project_model

    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent
    with FileLock(str(shared / "e2e-model.lock")):
        trained = shared / "e2e-model" / "e2e.tar.gz"
        if trained.exists():
            return trained
        work = shared / "e2e-model"
        shutil.rmtree(work, ignore_errors=True)  # a worker that failed half-way
        work.mkdir()
        return train_project_model(work)
