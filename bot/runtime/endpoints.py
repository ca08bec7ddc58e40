"""Write the Rasa ``endpoints.yml`` for chosen ports and files.

``endpoints.yml`` in the repository root holds the defaults (action server on 5055, tracker
store ``var/tracker.db``) for ``rasa shell``; ``make run`` and the end-to-end tests call
:func:`write_endpoints` so that each port and file can be overridden.

Usage: ``python -m bot.runtime.endpoints OUT.yml`` reads ``ACTION_PORT`` (default 5055) and
``TRACKER_DB`` (default ``var/tracker.db``) from the environment.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from bot.config import settings


def endpoints_config(action_url: str, tracker_db: str) -> dict:
    """The endpoints mapping Rasa reads (``rasa/core/utils.py::read_endpoints_from_path``).

    Args:
        action_url: the action server's webhook URL, e.g. ``http://127.0.0.1:5055/webhook``.
        tracker_db: SQLite file of Rasa's SQL tracker store.

    Returns:
        A dict ready to dump as YAML.
    """
    return {
        "action_endpoint": {"url": action_url},
        "tracker_store": {
            "type": "bot.dialogue.tracker_store.WindowedSQLTrackerStore",
            "dialect": "sqlite",
            "db": tracker_db,
        },
        "lock_store": {"type": "bot.dialogue.lock_store.AsyncioLockStore"},
    }


def write_endpoints(path: Path, action_url: str, tracker_db: str) -> Path:
    """Write :func:`endpoints_config` to ``path`` (parents created); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(endpoints_config(action_url, tracker_db), sort_keys=False))
    return path


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "var/endpoints.yml")
    config = settings()
    print(write_endpoints(out, f"http://127.0.0.1:{config.action_port}/webhook",
                          config.tracker_db))
