"""The event consumer: RabbitMQ queue -> ``conversation_events`` in the shop database.

``python -m bot.runtime.event_consumer`` reads ``$RABBITMQ_URL``, ``$DATABASE_URL`` and
``$TOUCHLINE_EVENT_QUEUE`` and runs until SIGTERM or SIGINT.

Rasa's ``pika`` event broker (``rasa/core/brokers/pika.py``) publishes every event of every
conversation as a persistent message to a fanout exchange bound to a durable queue (the
endpoints of the production profile, :mod:`bot.runtime.endpoints`, name both after
``$TOUCHLINE_EVENT_QUEUE``).  This consumer declares the same queue and binding, takes up
to :data:`BATCH` messages, writes them in one transaction, and acknowledges them only after
the commit, so:

* **at least once**: a consumer or RabbitMQ that stops before the acknowledgement gets the
  messages delivered again (the queue is durable and the messages persistent, so a
  RabbitMQ restart keeps them);
* **idempotent**: each row is keyed on the SHA-256 of the event's canonical JSON
  (:func:`event_key`, a unique column), and the insert skips keys already stored
  (``INSERT ... ON CONFLICT DO NOTHING``), so a redelivered event is stored once;
* **database down**: the batch is neither stored nor acknowledged; the write is retried
  every :data:`RETRY_S` seconds until it commits;
* **bad message** (not a JSON object with ``sender_id`` and ``event``): logged with its
  size, acknowledged and dropped (it would come back forever otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy.dialects import postgresql, sqlite

from bot.config import database_url, settings
from bot.store.db import session_scope
from bot.store.models import ConversationEvent, utcnow

logger = logging.getLogger(__name__)

BATCH = 256
"""Most messages written (and acknowledged) together; also the prefetch count."""
FLUSH_S = 0.05
"""How long a batch waits for more messages before it is written (seconds)."""
ACK_TIMEOUT_S = 5.0
"""Longest wait for an acknowledgement to be sent (seconds)."""
RETRY_S = 1.0
"""Pause between attempts to write a batch while the database is unreachable (seconds)."""


def event_key(event: dict[str, Any]) -> str:
    """SHA-256 (hex) of ``event``'s canonical JSON (sorted keys, no spaces): the same for a
    redelivered copy, different for any two events Rasa stamped at different times."""
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse(body: bytes) -> dict[str, Any] | None:
    """The event in a message body, ``None`` when it is not a JSON object with a string
    ``sender_id`` and ``event``."""
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(event, dict) or not isinstance(event.get("sender_id"), str) \
            or not isinstance(event.get("event"), str):
        return None
    return event


def row(event: dict[str, Any]) -> dict[str, Any]:
    """The ``conversation_events`` row of a parsed event."""
    stamp = event.get("timestamp")
    return {
        "event_key": event_key(event),
        "sender_id": event["sender_id"][:255],
        "type_name": event["event"][:64],
        "timestamp": float(stamp) if isinstance(stamp, (int, float)) else None,
        "data": json.dumps(event, ensure_ascii=False),
        "received_at": utcnow(),
    }


def store_events(events: Sequence[dict[str, Any]], url: str | None = None) -> int:
    """Insert ``events`` in one transaction, skipping any already stored.

    Args:
        events: parsed events (:func:`parse`).
        url: database URL, default ``$DATABASE_URL``.

    Returns:
        How many rows were new.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database could not be written (nothing was).
    """
    if not events:
        return 0
    unique = {r["event_key"]: r for r in map(row, events)}
    with session_scope(url) as session:
        dialect = {"sqlite": sqlite, "postgresql": postgresql}[session.get_bind().dialect.name]
        stmt = dialect.insert(ConversationEvent.__table__).values(list(unique.values()))
        result = session.execute(stmt.on_conflict_do_nothing(index_elements=["event_key"]))
        return int(result.rowcount)


@dataclass(frozen=True)
class Source:
    """Where the events come from."""

    rabbitmq_url: str
    queue: str

    @property
    def exchange(self) -> str:
        """The fanout exchange Rasa publishes to (named as in :mod:`bot.runtime.endpoints`)."""
        return f"{self.queue}.exchange"


async def _write_until_stored(messages: list[AbstractIncomingMessage], url: str | None,
                              stop: asyncio.Event) -> bool:
    """Store the batch (retrying while the database is down); ``False`` if stopped first."""
    events = []
    for message in messages:
        event = parse(message.body)
        if event is None:
            logger.error("dropped a message that is not a Rasa event (%d bytes)",
                         len(message.body))
        else:
            events.append(event)
    while not stop.is_set():
        try:
            await asyncio.to_thread(store_events, events, url)
            return True
        except Exception as exc:  # any database error: keep the batch, try again
            logger.warning("could not store %d events, retrying: %s", len(events), exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), RETRY_S)
    return False


async def consume(source: Source, url: str | None = None,
                  stop: asyncio.Event | None = None) -> None:
    """Consume ``source`` into the database at ``url`` until ``stop`` is set.

    Reconnects to RabbitMQ by itself (aio-pika's robust connection, which re-declares the
    queue and binding); unacknowledged messages of a lost connection come back.

    Raises:
        aio_pika.exceptions.AMQPConnectionError: RabbitMQ unreachable at start.
    """
    stop = stop or asyncio.Event()
    connection = await aio_pika.connect_robust(source.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=BATCH)
        # Declared as Rasa declares it (``PikaEventBroker._set_up_exchange``): any other
        # arguments would be refused as a different exchange.
        exchange = await channel.declare_exchange(source.exchange, aio_pika.ExchangeType.FANOUT)
        queue = await channel.declare_queue(source.queue, durable=True)
        await queue.bind(exchange, "")
        inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        await queue.consume(inbox.put)
        logger.info("consuming %s into the database", source.queue)
        while not stop.is_set():
            batch = await _next_batch(inbox, stop)
            if not batch or not await _write_until_stored(batch, url, stop):
                continue
            try:
                # An acknowledgement on a channel that died while the batch was being
                # stored never completes (aiormq waits for the closed channel): bounded.
                await asyncio.wait_for(batch[-1].ack(multiple=True), ACK_TIMEOUT_S)
            except Exception as exc:  # channel lost: RabbitMQ redelivers, inserts skip
                logger.warning("could not acknowledge %d stored events (they come again "
                               "and are skipped): %r", len(batch), exc)


async def _next_batch(inbox: asyncio.Queue[AbstractIncomingMessage],
                      stop: asyncio.Event) -> list[AbstractIncomingMessage]:
    """Up to :data:`BATCH` messages: the first one awaited (or none when stopped), then
    what arrives within :data:`FLUSH_S`."""
    getter = asyncio.ensure_future(inbox.get())
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not getter.done():
        getter.cancel()
        return []
    batch = [getter.result()]
    deadline = asyncio.get_running_loop().time() + FLUSH_S
    while len(batch) < BATCH:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            break
        try:
            batch.append(await asyncio.wait_for(inbox.get(), remaining))
        except asyncio.TimeoutError:
            break
    return batch


async def _main() -> None:
    config = settings()
    if not config.rabbitmq_url:
        raise SystemExit("RABBITMQ_URL is not set: nothing to consume")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await consume(Source(config.rabbitmq_url, config.event_queue), database_url(), stop)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(_main())
