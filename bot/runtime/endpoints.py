"""Write the Rasa ``endpoints.yml`` for chosen ports, files and services.

``endpoints.yml`` in the repository root holds the defaults (action server on 5055, tracker
store ``var/tracker.db``) for ``rasa shell``; ``make run``, ``make run-cluster`` and the
end-to-end tests call :func:`write_endpoints` so that each port, file and service can be
overridden.

Two profiles, chosen by the environment (:func:`services_from_settings`):

* **embedded** (nothing set, ``make run``): SQLite tracker store, the host-local lock store
  (:class:`bot.dialogue.lock_store.AsyncioLockStore`), no event broker;
* **production** (any of these set): ``DATABASE_URL`` (or ``TRACKER_DB``) on PostgreSQL puts
  the tracker store there; ``REDIS_URL`` the conversation locks on Redis
  (:class:`bot.dialogue.redis_lock_store.RedisLockStore`); ``RABBITMQ_URL`` adds Rasa's
  ``pika`` event broker with publisher confirms
  (:class:`bot.dialogue.event_outbox.ConfirmingPikaEventBroker`: every event, redacted by
  the tracker store, goes through its transactional outbox to ``$TOUCHLINE_EVENT_QUEUE``);
  ``TOUCHLINE_MODEL_URL`` makes each server load its model from a model server.

Usage: ``python -m bot.runtime.endpoints OUT.yml`` reads ``ACTION_PORT`` (default 5055),
``TRACKER_DB`` (default ``var/tracker.db``) and the variables above.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml

from bot.config import Settings, settings

LOCK_KEY_PREFIX = "touchline:lock:"
"""Redis key prefix of the conversation locks."""


@dataclass(frozen=True)
class Services:
    """Where the production profile's parts live (``None``: the embedded default)."""

    tracker_url: str | None = None
    """PostgreSQL URL of the tracker store (Rasa's ``events`` table)."""
    redis_url: str | None = None
    """Redis of the lock store."""
    rabbitmq_url: str | None = None
    """RabbitMQ of the event broker."""
    event_queue: str = "touchline_events"
    """Durable queue the events go to (and ``<queue>.exchange``, the fanout exchange)."""
    model_url: str | None = None
    """Model server URL (``models.url``), fetched once at start."""


def _postgresql(url: str | None) -> str | None:
    """``url`` when it names a PostgreSQL database, else ``None``."""
    return url if url and url.split(":", 1)[0].startswith("postgresql") else None


def services_from_settings(config: Settings) -> Services:
    """The services the environment names (see the module docstring).

    ``TRACKER_DB`` wins when it is a PostgreSQL URL; else a PostgreSQL ``DATABASE_URL``
    holds the tracker store too (its ``events`` table sits beside the shop's tables).
    """
    return Services(
        tracker_url=_postgresql(config.tracker_db) or _postgresql(config.database_url),
        redis_url=config.redis_url,
        rabbitmq_url=config.rabbitmq_url,
        event_queue=config.event_queue,
        model_url=config.model_url,
    )


def sql_tracker_store(url: str) -> dict[str, Any]:
    """Rasa ``SQLTrackerStore`` keys for a PostgreSQL ``url``
    (``rasa/core/tracker_store.py::SQLTrackerStore.__init__``: dialect, host, port, db,
    username, password, query); a URL without a host (``?host=/socket/dir``) connects
    through that UNIX socket folder."""
    parts = urlsplit(url)
    config: dict[str, Any] = {
        "type": "bot.dialogue.tracker_store.WindowedSQLTrackerStore",
        "dialect": "postgresql",
    }
    if parts.hostname:
        config |= {"url": parts.hostname, "port": parts.port or 5432}
    config |= {"db": parts.path.lstrip("/") or "postgres",
               "username": unquote(parts.username or "postgres"),
               "password": unquote(parts.password or "")}
    if parts.query:
        config["query"] = dict(parse_qsl(parts.query))
    return config


def pika_broker(url: str, queue: str) -> dict[str, Any]:
    """Event broker keys for an ``amqp://`` ``url``: Rasa's ``pika`` broker's
    (``rasa/core/brokers/pika.py::PikaEventBroker.__init__``) for its subclass
    :class:`bot.dialogue.event_outbox.ConfirmingPikaEventBroker`; the exchange is named
    after the queue, so two deployments on one RabbitMQ never receive each other's
    events."""
    parts = urlsplit(url)
    return {
        "type": "bot.dialogue.event_outbox.ConfirmingPikaEventBroker",
        "url": url,
        "port": parts.port or 5672,
        "username": unquote(parts.username or "guest"),
        "password": unquote(parts.password or "guest"),
        "queues": [queue],
        "exchange_name": f"{queue}.exchange",
        "connection_attempts": 3,
        "retry_delay_in_seconds": 2,
    }


def endpoints_config(action_url: str, tracker_db: str,
                     services: Services | None = None) -> dict[str, Any]:
    """The endpoints mapping Rasa reads (``rasa/core/utils.py::read_endpoints_from_path``).

    Args:
        action_url: the action server's webhook URL, e.g. ``http://127.0.0.1:5055/webhook``.
        tracker_db: SQLite file of Rasa's SQL tracker store (embedded profile).
        services: the production profile's services; ``None`` or all unset: embedded.

    Returns:
        A dict ready to dump as YAML.
    """
    services = services or Services()
    tracker: dict[str, Any] = (
        sql_tracker_store(services.tracker_url) if services.tracker_url else
        {"type": "bot.dialogue.tracker_store.WindowedSQLTrackerStore",
         "dialect": "sqlite", "db": tracker_db})
    lock: dict[str, Any] = (
        {"type": "bot.dialogue.redis_lock_store.RedisLockStore", "url": services.redis_url,
         "key_prefix": LOCK_KEY_PREFIX} if services.redis_url else
        {"type": "bot.dialogue.lock_store.AsyncioLockStore"})
    config: dict[str, Any] = {"action_endpoint": {"url": action_url},
                              "tracker_store": tracker, "lock_store": lock}
    if services.rabbitmq_url:
        config["event_broker"] = pika_broker(services.rabbitmq_url, services.event_queue)
    if services.model_url:
        config["models"] = {"url": services.model_url, "wait_time_between_pulls": None}
    return config


def write_endpoints(path: Path, action_url: str, tracker_db: str,
                    services: Services | None = None) -> Path:
    """Write :func:`endpoints_config` to ``path`` (parents created, mode 0600: it may hold
    passwords); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(endpoints_config(action_url, tracker_db, services),
                                   sort_keys=False))
    return path


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "var/endpoints.yml")
    config = settings()
    print(write_endpoints(out, f"http://127.0.0.1:{config.action_port}/webhook",
                          config.tracker_db, services_from_settings(config)))
