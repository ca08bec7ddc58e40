"""``WindowedSQLTrackerStore``: Rasa's SQL tracker store with a bounded working tracker.

With Rasa 3.6's ``SQLTrackerStore`` every turn reloads and replays all events of the
conversation session, featurizes all past states for the policies, and sends all events to
the action server (``rasa/core/tracker_store.py``, ``rasa/core/actions/action.py``), so a
turn gets slower the longer the conversation: about 3x from turn 10 to turn 200 here
(``bench/turn_latency.py``).  This store keeps the complete history in the same SQL table
(``retrieve_full_tracker``, the HTTP API and ``rasa export`` see everything) but hands the
dialogue engine a *window*: the state at the start of the window (slot values, active form)
as synthetic events, followed by the last turns.  Policies here look back at most 5 turns
(``max_history``), so predictions are unchanged.

Working trackers are cached per conversation (LRU) with the id of the conversation's last
stored event, so a turn reads one indexed ``max(id)`` from the database instead of the
events; ``save`` appends only the new events.  When another Rasa process (a second Sanic
worker) has stored events of the conversation since, the ids differ and the tracker is
loaded again, so several processes can share one database (with a lock store that works
across them, :mod:`bot.dialogue.lock_store`).

Nothing is stored as typed when it holds payment data: every event is redacted
(:mod:`bot.privacy.redaction`: card numbers, security codes, IBANs, and e-mail addresses
or phone numbers when switched on) before it is written or handed to an event broker, so
user text, ``metadata.original_text``, ``parse_data`` and slot values hold placeholders in
the database. The turn that receives a message still works on what was typed (Rasa saves
after the turn), and so does this process's cached working tracker; the log records of
the process are redacted from the moment the store is made (:mod:`bot.privacy.logs`).

Configure in ``endpoints.yml``::

    tracker_store:
      type: bot.dialogue.tracker_store.WindowedSQLTrackerStore
      dialect: sqlite
      db: var/tracker.db
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm  # noqa: F401  (makes sa.orm available)
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import (
    SQLTrackerStore,
    TrackerEventDiffEngine,
    create_engine_kwargs,
)
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.pool import QueuePool

from bot.dialogue.event_outbox import ConfirmingPikaEventBroker, Outbox
from bot.privacy import redactor
from bot.privacy.brokers import RedactingEventBroker
from bot.privacy.logs import install_log_redaction
from bot.privacy.redaction import Redactor

MAX_EVENTS = 120
"""A working tracker longer than this is cut back to about :data:`KEEP_EVENTS` events."""
KEEP_EVENTS = 60
CACHE_SIZE = 10_000
"""Conversations whose working tracker stays in memory."""
_LAST_EVENT = sa.text("SELECT max(id) FROM events WHERE sender_id = :sender_id")


@dataclass(frozen=True)
class _Entry:
    """A cached working tracker (``None``: nothing stored), the number of its events that
    are stored, and the id of the conversation's last stored event (``None``: none)."""

    tracker: DialogueStateTracker | None
    stored: int
    last_id: int | None


class WindowedSQLTrackerStore(SQLTrackerStore):
    """SQL tracker store whose ``retrieve`` returns a bounded, cached working tracker."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Same arguments as :class:`rasa.core.tracker_store.SQLTrackerStore`.

        Installs the log redaction of this process (:func:`install_log_redaction`).
        """
        self.redactor: Redactor = redactor()
        install_log_redaction(self.redactor)
        self._event_outbox: Outbox | None = None
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            # Keep connections open between turns, and commit with one fsync (WAL with
            # synchronous=NORMAL: a power cut can lose the last turns, never corrupt).
            # Pooled connections may serve worker threads too (the widget reads history in
            # one, bot/dialogue/conversation_reads.py); the pool hands each to one thread
            # at a time.
            self.engine = sa.create_engine(self.engine.url, poolclass=QueuePool, pool_size=5,
                                           connect_args={"check_same_thread": False})
            sa.event.listen(self.engine, "connect", _sqlite_wal)
            self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)
        elif self.engine.dialect.name == "postgresql":
            # A restarted PostgreSQL leaves every pooled connection dead, and Rasa's engine
            # would hand each one to a turn that then fails: test them on checkout.
            self.engine = sa.create_engine(self.engine.url, pool_pre_ping=True, pool_timeout=10,
                                           **create_engine_kwargs(self.engine.url))
            self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)
        self._cache: OrderedDict[str, _Entry] = OrderedDict()

    @property  # type: ignore[override]
    def event_broker(self) -> EventBroker | None:
        """The configured event broker, behind :class:`RedactingEventBroker`."""
        return self._event_broker

    @event_broker.setter
    def event_broker(self, broker: EventBroker | None) -> None:
        self._event_broker = (None if broker is None or isinstance(broker, RedactingEventBroker)
                              else RedactingEventBroker(broker, self.redactor))

    def outbox(self) -> Outbox | None:
        """The event outbox, when the broker is a :class:`ConfirmingPikaEventBroker`
        (:mod:`bot.dialogue.event_outbox`); ``None`` for any other broker or none."""
        broker = self._event_broker.broker if self._event_broker is not None else None
        if not isinstance(broker, ConfirmingPikaEventBroker):
            return None
        if self._event_outbox is None:
            self._event_outbox = Outbox(self.engine, broker)
        return self._event_outbox

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The working tracker of the latest session (a copy), or ``None`` if unknown."""
        outbox = self.outbox()
        if outbox is not None:  # a restarted server sweeps what a killed one left
            outbox.send([])
        entry = await self._current(sender_id)
        return entry.tracker.copy() if entry.tracker is not None else None

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append the events added since the last save or retrieve, then re-window.

        The cache entry is the one :meth:`retrieve` checked against the database; Rasa
        retrieves and saves under the conversation's lock, which every process holds in
        turn (:mod:`bot.dialogue.lock_store`), so no other process stored events between.

        Events reach the broker only once committed (Rasa publishes first): through the
        outbox when there is one (written in the same transaction, :meth:`outbox`), else
        published after the commit as Rasa's ``stream_events`` would.
        """
        outbox = self.outbox()
        new_events = None
        if self.event_broker is not None and outbox is None:
            old = await self.retrieve(tracker.sender_id)
            new_events = TrackerEventDiffEngine.event_difference(old, tracker)
        entry = self._cache.get(tracker.sender_id)
        if entry is None:  # never retrieved here: Rasa's count-based diff
            with self.session_scope() as session:
                events = list(self._additional_events(session, tracker))
            _last_id, messages = self._append(tracker.sender_id, events, outbox is not None)
            await self._current(tracker.sender_id)
        else:
            last_id, messages = self._append(tracker.sender_id,
                                             list(tracker.events)[entry.stored :],
                                             outbox is not None)
            self._remember(window(tracker, self.domain.slots), last_id or entry.last_id)
        if outbox is not None:
            outbox.send(messages)
        elif self.event_broker is not None and new_events:
            await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)

    async def _current(self, sender_id: str) -> _Entry:
        """The cache entry of ``sender_id``, loaded again if the database moved on."""
        last_id = self._last_id(sender_id)
        entry = self._cache.get(sender_id)
        if entry is None or entry.last_id != last_id:
            tracker = await super().retrieve(sender_id) if last_id is not None else None
            if tracker is None:
                entry = _Entry(None, 0, None)
                self._cache[sender_id] = entry
            else:
                entry = self._remember(window(tracker, self.domain.slots), last_id)
        self._cache.move_to_end(sender_id)
        return entry

    def _last_id(self, sender_id: str) -> int | None:
        """Id of the last stored event of ``sender_id`` (one indexed look-up), or ``None``."""
        with self.engine.connect() as conn:
            return conn.execute(_LAST_EVENT, {"sender_id": sender_id}).scalar()

    async def append_outside_turn(self, sender_id: str, events: list[Event]) -> int | None:
        """Store ``events`` of ``sender_id`` with one INSERT, without reading or saving the
        conversation's tracker (an agent's message from the inbox,
        :mod:`connectors.agent_messages`); their broker messages go as :meth:`save` sends
        a turn's: through the event outbox, written in the same transaction, when there is
        one (:meth:`outbox`), else published after the commit.

        The caller must hold the conversation's lock (the lock store), as Rasa does around
        retrieve and save: then one writer at a time stores a conversation's events, so
        its ids are committed in order and the ``max(id)`` check of every process's cache
        (:meth:`_current`) sees the new rows.  (Without the lock, a turn saving at the same
        moment would record its own last id over these rows and keep a working tracker
        without them; on PostgreSQL a lower id can also commit after a higher one.)

        This process's cached working tracker gets the events as well when it was current
        (no other process stored since), so the next turn here reads nothing more; else
        the next retrieve loads the conversation again.

        Args:
            sender_id: the conversation.
            events: what to append (bot messages and slots, usually); redacted when stored.

        Returns:
            The id of the last stored event (``None`` when ``events`` is empty).

        Raises:
            sqlalchemy.exc.SQLAlchemyError: nothing was stored (and nothing published).
        """
        if not events:
            return None
        outbox = self.outbox()
        entry = self._cache.get(sender_id)
        current = (entry is not None and entry.tracker is not None
                   and entry.last_id == self._last_id(sender_id))
        last_id, messages = self._append(sender_id, events, outbox is not None)
        if current and entry is not None and entry.tracker is not None:
            tracker = entry.tracker.copy()
            for event in events:
                tracker.update(event)
            self._remember(window(tracker, self.domain.slots), last_id)
        if outbox is not None:
            outbox.send(messages)
        elif self.event_broker is not None:
            await self._stream_new_events(self.event_broker, events, sender_id)
        return last_id

    def _remember(self, tracker: DialogueStateTracker, last_id: int | None) -> _Entry:
        entry = _Entry(tracker.copy(), len(tracker.events), last_id)
        self._cache[tracker.sender_id] = entry
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return entry

    def _append(self, sender_id: str, events: list[Event], outboxed: bool = False
                ) -> tuple[int | None, list[tuple[int, dict[str, Any]]]]:
        """Store ``events`` (redacted), with their broker messages in the outbox when
        ``outboxed``; returns the id of the last event (``None`` when none) and the
        ``(outbox row id, message)`` pairs."""
        if not events:
            return None, []
        bodies = [self.redactor.value({"sender_id": sender_id, **event.as_dict()})
                  for event in events] if outboxed else []
        with self.session_scope() as session:
            rows = []
            for event in events:
                data = self.redactor.value(event.as_dict())
                rows.append(
                    self.SQLEvent(
                        sender_id=sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=((data.get("parse_data") or {}).get("intent") or {}).get(
                            INTENT_NAME_KEY
                        ),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.add_all(rows)
            messages = Outbox.add(session, bodies)
            session.flush()
            last_id = rows[-1].id
            pairs = [(message.id, body) for message, body in zip(messages, bodies)]
            session.commit()
        return last_id, pairs


def _sqlite_wal(dbapi_conn: Any, _record: Any) -> None:  # noqa: ANN401
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def window(tracker: DialogueStateTracker, slots: list) -> DialogueStateTracker:
    """``tracker`` itself when short, else its state at a turn boundary plus what follows.

    Args:
        tracker: a conversation tracker.
        slots: the domain's slot definitions.

    Returns:
        A tracker with at most about :data:`KEEP_EVENTS` real events (plus synthetic
        ``SlotSet`` / ``ActiveLoop`` events restoring the state where the window starts);
        the same slots, active loop and latest message as ``tracker``.
    """
    events = list(tracker.events)
    if len(events) <= MAX_EVENTS:
        return tracker
    start = _turn_boundary(events, len(events) - KEEP_EVENTS)
    if start is None:
        return tracker
    before = DialogueStateTracker.from_events(tracker.sender_id, events[:start], slots)
    prefix: list[Event] = [ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted()]
    prefix += [SlotSet(s.name, s.value) for s in before.slots.values() if s.has_been_set]
    if before.active_loop_name:
        prefix.append(ActiveLoop(before.active_loop_name))
    return DialogueStateTracker.from_events(tracker.sender_id, prefix + events[start:], slots)


def _turn_boundary(events: list[Event], at_least: int) -> int | None:
    """Index of the first ``action_listen`` followed by a user message at or after
    ``at_least`` (a window starts where a user turn starts)."""
    for i in range(max(at_least, 0), len(events) - 1):
        if (
            isinstance(events[i], ActionExecuted)
            and events[i].action_name == ACTION_LISTEN_NAME
            and isinstance(events[i + 1], UserUttered)
        ):
            return i
    return None


def _raise(_store: object, error: Exception) -> None:
    raise error


def strict_failsafe() -> None:
    """Make Rasa's ``FailSafeTrackerStore`` (which ``Agent`` wraps around every tracker
    store, ``rasa/core/agent.py``) re-raise a tracker store error instead of falling back
    to a per-process in-memory store.

    The fallback loses turns silently once several servers share the store: a failed save
    is kept only in that server's memory (the customer got an answer, the conversation
    has no such turn), and a failed read starts the conversation afresh.  Re-raised, the
    error fails the turn and the channel answers with the apology that asks the customer
    to try again (:func:`bot.dialogue.turn.run_turn`).  Installed in the Rasa server
    process by :func:`bot.runtime.rasa_server.install`; idempotent.
    """
    from rasa.core.tracker_store import FailSafeTrackerStore

    FailSafeTrackerStore.on_tracker_store_error = _raise  # type: ignore[method-assign]
    FailSafeTrackerStore.on_tracker_store_retrieve_error = _raise  # type: ignore[method-assign]
