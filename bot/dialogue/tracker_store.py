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

Working trackers are cached per conversation (LRU), so a turn reads nothing from the
database; ``save`` appends only the new events.  Like Rasa's in-memory lock store, the
cache assumes one Rasa server process per database.

Configure in ``endpoints.yml``::

    tracker_store:
      type: bot.dialogue.tracker_store.WindowedSQLTrackerStore
      dialect: sqlite
      db: var/tracker.db
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm  # noqa: F401  (makes sa.orm available)
from rasa.core.tracker_store import SQLTrackerStore
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

MAX_EVENTS = 120
"""A working tracker longer than this is cut back to about :data:`KEEP_EVENTS` events."""
KEEP_EVENTS = 60
CACHE_SIZE = 10_000
"""Conversations whose working tracker stays in memory."""
_ANY_EVENT = sa.text("SELECT 1 FROM events WHERE sender_id = :sender_id LIMIT 1")


class WindowedSQLTrackerStore(SQLTrackerStore):
    """SQL tracker store whose ``retrieve`` returns a bounded, cached working tracker."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Same arguments as :class:`rasa.core.tracker_store.SQLTrackerStore`."""
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            # Keep connections open between turns, and commit with one fsync (WAL with
            # synchronous=NORMAL: a power cut can lose the last turns, never corrupt).
            self.engine = sa.create_engine(self.engine.url, poolclass=QueuePool, pool_size=5)
            sa.event.listen(self.engine, "connect", _sqlite_wal)
            self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)
        # sender id -> (working tracker, its events already stored); (None, 0) = none stored
        self._cache: OrderedDict[str, tuple[DialogueStateTracker | None, int]] = OrderedDict()

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The working tracker of the latest session (a copy), or ``None`` if unknown."""
        cached = self._cache.get(sender_id)
        if cached is None:
            tracker = await super().retrieve(sender_id) if self._stored(sender_id) else None
            if tracker is None:
                self._cache[sender_id] = (None, 0)  # a new conversation: nothing stored yet
                return None
            cached = self._remember(window(tracker, self.domain.slots))
        self._cache.move_to_end(sender_id)
        return cached[0].copy() if cached[0] is not None else None

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append the events added since the last save or retrieve, then re-window."""
        if self.event_broker is not None:
            await self.stream_events(tracker)
        cached = self._cache.get(tracker.sender_id)
        if cached is None:  # never retrieved here: defer to Rasa's count-based diff
            await super().save(tracker)
            await self.retrieve(tracker.sender_id)
            return
        known = cached[1]
        self._append(tracker.sender_id, list(tracker.events)[known:])
        self._remember(window(tracker, self.domain.slots))

    def _stored(self, sender_id: str) -> bool:
        """Whether the database holds any event of ``sender_id`` (one indexed look-up,
        cheaper than Rasa's session query for the many conversations that are new)."""
        with self.engine.connect() as conn:
            return conn.execute(_ANY_EVENT, {"sender_id": sender_id}).first() is not None

    def _remember(self, tracker: DialogueStateTracker) -> tuple[DialogueStateTracker | None, int]:
        entry = (tracker.copy(), len(tracker.events))
        self._cache[tracker.sender_id] = entry
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return entry

    def _append(self, sender_id: str, events: list[Event]) -> None:
        if not events:
            return
        with self.session_scope() as session:
            for event in events:
                data = event.as_dict()
                session.add(
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
            session.commit()


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
