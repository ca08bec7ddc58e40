"""A transactional outbox between the tracker store and RabbitMQ: no event is lost.

Rasa 3.6 hands a turn's events to the event broker around the tracker store's commit, and
``PikaEventBroker.publish`` (``rasa/core/brokers/pika.py``) only starts a background task:
a server killed after the commit loses the events it had not yet sent, and while RabbitMQ
is down the failed ones wait in that process's memory only. The cluster test
(``tests/e2e/test_cluster.py``) counted such losses after a SIGKILL.

With :class:`ConfirmingPikaEventBroker` configured (the production profile,
:mod:`bot.runtime.endpoints`), the tracker store (:mod:`bot.dialogue.tracker_store`) writes
each event's message into ``event_outbox`` (:class:`bot.store.models.EventOutboxMessage`)
in the same transaction as the event, and :class:`Outbox`:

* after the commit, publishes the new messages in a background task (the turn does not
  wait) with RabbitMQ's publisher confirms, then deletes the confirmed rows;
* every :data:`SWEEP_S` seconds publishes the rows older than :data:`GRACE_S` (left by a
  killed server, or by a publish that failed while RabbitMQ was down), claimed with
  ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so that servers sharing the database do not
  send the same rows together.

Delivery is at least once (a kill between the confirm and the delete sends a message
again), which the consumer absorbs (:func:`bot.runtime.event_consumer.event_key`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.pika import PikaEventBroker
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.store.models import EventOutboxMessage, utcnow

logger = logging.getLogger(__name__)

GRACE_S = 10.0
"""Age (seconds) after which a row counts as left behind: a publish takes milliseconds."""
SWEEP_S = 2.0
"""Pause between sweeps (seconds)."""
PUBLISH_TIMEOUT_S = 5.0
"""Longest wait for RabbitMQ to confirm one message (seconds)."""
SWEEP_BATCH = 256
"""Most rows one sweep publishes."""
REOPEN_S = 5.0
"""Least time between two fresh connections to RabbitMQ after failed publishes (seconds)."""

_TABLE = EventOutboxMessage.__table__


class ConfirmingPikaEventBroker(PikaEventBroker):
    """Rasa's ``pika`` event broker (same ``endpoints.yml`` keys, same exchange, queues and
    messages) that can also publish and wait for RabbitMQ's confirmation."""

    async def publish_confirmed(self, event: dict[str, Any]) -> None:
        """Publish ``event`` as :meth:`publish` would, and return once RabbitMQ confirmed it
        (aio-pika channels confirm by default).

        A publish that fails other than by a time-out opens the connection and channel
        afresh (at most once per :data:`REOPEN_S`) and is tried once more: after RabbitMQ
        restarts, aio-pika 8's robust connection can stay down for good ("Connection was
        not opened") or leave the exchange on a closed channel
        (``ChannelInvalidStateError``), and ``bench/cluster.py`` saw a server fail every
        publish from then on.

        Raises:
            ConnectionError: not connected, or reopened too recently.
            asyncio.TimeoutError: no confirmation within :data:`PUBLISH_TIMEOUT_S`.
            Exception: what aio-pika raised on the second attempt.
        """
        if self._exchange is None or self._connection is None:
            raise ConnectionError("the RabbitMQ exchange is not set up")
        try:
            await self._publish_once(event)
        except asyncio.TimeoutError:
            raise
        except Exception as exc:
            await self._reopen(exc)
            await self._publish_once(event)

    async def _publish_once(self, event: dict[str, Any]) -> None:
        assert self._exchange is not None
        await asyncio.wait_for(self._exchange.publish(self._message(event, None), ""),
                               PUBLISH_TIMEOUT_S)

    async def _reopen(self, cause: Exception) -> None:
        """A new connection (Rasa's ``_connect``: its attempts and delays) and channel with
        the exchange and queues declared again; the old connection is closed.

        Raises:
            ConnectionError: reopened less than :data:`REOPEN_S` ago (``cause`` chained).
        """
        now = asyncio.get_running_loop().time()
        if now - getattr(self, "_reopened_at", -REOPEN_S) < REOPEN_S:
            raise ConnectionError("RabbitMQ unavailable") from cause
        self._reopened_at = now
        logger.warning("publishing failed (%r): connecting to RabbitMQ afresh", cause)
        old, self._connection = self._connection, await self._connect()
        self._exchange = await self._set_up_exchange(await self._connection.channel())
        if old is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(old.close(), PUBLISH_TIMEOUT_S)


class Outbox:
    """The ``event_outbox`` table of one tracker store's database and its publisher."""

    def __init__(self, engine: Engine, broker: ConfirmingPikaEventBroker) -> None:
        """Create the table if the database lacks it (a tracker store database that is
        not the migrated shop database).

        Args:
            engine: the tracker store's engine.
            broker: where the messages go.
        """
        _TABLE.create(engine, checkfirst=True)
        self.engine = engine
        self.broker = broker
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    @staticmethod
    def add(session: Session, bodies: Sequence[dict[str, Any]]) -> list[EventOutboxMessage]:
        """Add one row per message to ``session`` (the transaction that stores the events);
        returns the rows, whose ids are set once the session flushed."""
        rows = [EventOutboxMessage(body=json.dumps(body), created_at=utcnow())
                for body in bodies]
        session.add_all(rows)
        return rows

    def send(self, messages: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """Publish committed ``(row id, body)`` messages in a background task, and make sure
        the sweep runs. Must be called from the running event loop."""
        self._ensure_sweeping()
        if messages:
            task = asyncio.get_running_loop().create_task(self._publish(messages))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _publish(self, messages: Sequence[tuple[int, dict[str, Any]]]) -> None:
        sent = []
        try:
            for row_id, body in messages:
                await self.broker.publish_confirmed(body)
                sent.append(row_id)
        except Exception as exc:  # RabbitMQ down: the sweep sends the rest later
            logger.warning("could not publish %d events now, the outbox keeps them: %r",
                           len(messages) - len(sent), exc)
        if sent:
            try:
                await asyncio.to_thread(self._delete, sent)
            except Exception as exc:  # database down: the sweep sends them again
                logger.warning("could not delete %d published events from the outbox (they "
                               "are sent again, the consumer stores them once): %r",
                               len(sent), exc)

    def _delete(self, ids: list[int]) -> None:
        """Delete the rows ``ids`` except those another server's sweep holds (it deletes
        them itself): never waits for a row lock (``SKIP LOCKED``), so a slow sweep
        elsewhere cannot stall this process."""
        unlocked = (sa.select(_TABLE.c.id).where(_TABLE.c.id.in_(ids))
                    .with_for_update(skip_locked=True))
        with self.engine.begin() as conn:
            conn.execute(_TABLE.delete().where(_TABLE.c.id.in_(unlocked)))

    async def sweep(self, older_than_s: float = GRACE_S) -> int:
        """Publish (then delete) up to :data:`SWEEP_BATCH` rows older than ``older_than_s``
        seconds, oldest first; returns how many.

        Raises:
            Exception: a publish failed (nothing of this sweep is deleted) or the database
                is unreachable.
        """
        cutoff = utcnow() - timedelta(seconds=older_than_s)
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.select(_TABLE.c.id, _TABLE.c.body).where(_TABLE.c.created_at <= cutoff)
                .order_by(_TABLE.c.id).limit(SWEEP_BATCH).with_for_update(skip_locked=True)
            ).all()
            for _row_id, body in rows:
                await self.broker.publish_confirmed(json.loads(body))
            if rows:
                conn.execute(_TABLE.delete().where(_TABLE.c.id.in_([r[0] for r in rows])))
        if rows:
            logger.info("published %d events the outbox held", len(rows))
        return len(rows)

    def _ensure_sweeping(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            try:
                while await self.sweep() == SWEEP_BATCH:
                    pass
            except Exception as exc:  # RabbitMQ or the database down: next sweep
                logger.warning("outbox sweep failed, retrying in %.0f s: %r", SWEEP_S, exc)
            await asyncio.sleep(SWEEP_S)

    async def close(self) -> None:
        """Stop the sweep and wait for the publishes in flight."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
