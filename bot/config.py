"""Runtime settings read from environment variables, with embedded defaults.

Every setting has a default that works on a fresh clone (SQLite and local files under
``var/``); production overrides them through the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""Repository root (the folder holding ``domain.yml``)."""


def var_dir() -> Path:
    """Folder for local state (database, indexes), ``$TOUCHLINE_VAR`` or ``<root>/var``.

    Returns:
        The folder, created if missing.
    """
    path = Path(os.environ.get("TOUCHLINE_VAR", PROJECT_ROOT / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str:
    """SQLAlchemy URL of the shop database: ``$DATABASE_URL`` or ``sqlite:///var/shop.db``."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{var_dir() / 'shop.db'}"
