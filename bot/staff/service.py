"""The staff pages' reads, over the configured stores: conversation events from the
tracker store (``TRACKER_DB``) or, in the production profile, from the event consumer's
table, handoffs and ratings from the shop database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from bot.config import settings
from bot.privacy.conversations import tracker_engine
from bot.staff.analytics import ConversationRow, conversation_rows, handoffs, unanswered
from bot.staff.discover import Cluster, Unanswered, discover, minilm_embedder
from bot.staff.events import ConversationEvent, EventSource, SQLEventSource
from bot.staff.retrain import RetrainRun, deploy, latest_model, load_model
from bot.store.db import get_engine, session_scope
from bot.store.proactive import set_setting, setting

MAX_DISCOVER = 2000
"""Most unanswered messages clustered at once (the latest of the range): bounds the
page's wait (Ward clustering is quadratic in memory and time)."""
DISMISSED = "dismissed_messages"
"""Staff setting: texts of clusters staff dismissed (left out of later discovery)."""
MAX_DISMISSED = 5000


_sources: dict[str, SQLEventSource] = {}
CONSUMER_TABLE = "conversation_events"
"""The event consumer's table in the shop database (:mod:`bot.runtime.event_consumer`,
migration 0009): the columns of Rasa's ``events`` table that :class:`SQLEventSource`
reads, one row per event every server published."""


class NoEvents:
    """The events of a tracker store that holds no conversation yet: none."""

    def events(self, start: float, end: float,
               conversation: str | None = None) -> Iterator[ConversationEvent]:
        """See :meth:`bot.staff.events.EventSource.events`; always empty."""
        return iter(())


def event_source() -> EventSource:
    """Where the pages read conversation events.

    Returns:
        With an event broker (``RABBITMQ_URL``, the production profile) the consumer's
        :data:`CONSUMER_TABLE` in the shop database, which holds every server's events;
        else the tracker store ``TRACKER_DB`` (:func:`tracker_engine`), or
        :class:`NoEvents` before its first conversation.
    """
    if settings().rabbitmq_url:
        url = str(get_engine().url)
        if url not in _sources:
            _sources[url] = SQLEventSource(get_engine(), table=CONSUMER_TABLE)
        return _sources[url]
    path = str(settings().tracker_db)
    if path not in _sources:
        engine = tracker_engine(path)
        if engine is None:
            return NoEvents()
        _sources[path] = SQLEventSource(engine)
    return _sources[path]


def day_bounds(start: date, end: date) -> tuple[float, float]:
    """Unix seconds of ``start`` 00:00 UTC and of the day after ``end``.

    Raises:
        ValueError: ``end`` before ``start`` or a range over 366 days.
    """
    if end < start or (end - start).days > 366:
        raise ValueError("the range must run forwards and span at most 366 days")
    low = datetime.combine(start, time(), timezone.utc)
    return low.timestamp(), (datetime.combine(end, time(), timezone.utc)
                             + timedelta(days=1)).timestamp()


def rows(start: date, end: date, channel: str | None = None) -> list[ConversationRow]:
    """The conversations of the days ``start``..``end`` (UTC), optionally of one channel."""
    low, high = day_bounds(start, end)
    with session_scope() as session:
        tickets = handoffs(session, low, high)
    return conversation_rows(event_source().events(low, high), tickets, channel)


def transcript(conversation: str) -> list[ConversationEvent]:
    """Every user and bot event of a conversation, oldest first."""
    return [e for e in event_source().events(0.0, 1e12, conversation) if e.kind in ("user", "bot")]


def dismissed() -> set[str]:
    """Texts of dismissed clusters."""
    with session_scope() as session:
        return set(setting(session, DISMISSED) or [])


def dismiss(texts: list[str]) -> None:
    """Leave these texts out of later discovery (the newest :data:`MAX_DISMISSED` kept)."""
    with session_scope() as session:
        kept = [t for t in (setting(session, DISMISSED) or []) if t not in texts] + texts
        set_setting(session, DISMISSED, kept[-MAX_DISMISSED:])


def clusters(start: date, end: date) -> tuple[list[Cluster], list[Unanswered]]:
    """Proposed intents from the range's unanswered messages (dismissed ones left out).

    Returns:
        The clusters and the messages their ``members`` index.
    """
    low, high = day_bounds(start, end)
    gone = dismissed()
    messages = [Unanswered(e.text or "", datetime.fromtimestamp(e.at, timezone.utc),
                           e.conversation)
                for e in unanswered(event_source().events(low, high))
                if e.text and e.text not in gone][-MAX_DISCOVER:]
    return discover(messages, minilm_embedder(), start, end), messages


class RetrainBusy(RuntimeError):
    """A train-and-compare run is already going, or there is no model to compare with."""


_RUN_LOCK = threading.Lock()
_runs: dict[str, RetrainRun] = {}
_deployed: dict[str, Path] = {}
"""``"previous"``: the model the last deploy replaced (for rollback)."""


def rasa_urls() -> list[str]:
    """The Rasa servers to load a new model into (``TOUCHLINE_RASA_URLS``, else the one
    Rasa server of ``TOUCHLINE_RASA_URL`` / ``RASA_PORT``)."""
    return settings().deploy_urls()


def rasa_token() -> str | None:
    """Rasa's ``--auth-token`` (``RASA_AUTH_TOKEN``), if set."""
    return settings().rasa_auth_token or None


def start_retrain() -> RetrainRun:
    """Start train and compare on ``TOUCHLINE_TRAINING_ROOT`` (its ``models/touchline.tar.gz``
    or newest model as the current one, ``tests/data/nlu_heldout.yml`` as the test).

    Raises:
        RetrainBusy: a run is still going, or no model exists yet.
    """
    root = settings().training_root
    models = root / "models"
    current = models / "touchline.tar.gz"
    current = current if current.exists() else latest_model(models) or current
    with _RUN_LOCK:
        if any(r.status == "running" for r in _runs.values()):
            raise RetrainBusy("a train-and-compare run is still going")
        if not current.exists():
            raise RetrainBusy("no trained model to compare with yet (run make run once)")
        run = RetrainRun(root, current, root / "tests" / "data" / "nlu_heldout.yml",
                         models / "staff")
        _runs.clear()
        _runs["latest"] = run
        run.start()
    return run


def latest_run() -> RetrainRun | None:
    """The last run of this process, if any."""
    return _runs.get("latest")


def deploy_latest() -> Path:
    """Deploy the last run's model (:func:`bot.staff.retrain.deploy`); returns the model
    it replaced.

    Raises:
        ValueError: no finished run, or an intent got worse.
        httpx.HTTPError: a Rasa server refused.
    """
    run = latest_run()
    if run is None:
        raise ValueError("no train-and-compare run yet")
    replaced = deploy(run, rasa_urls(), rasa_token())
    _deployed["previous"] = replaced
    return replaced


def rollback() -> Path:
    """Load the model the last deploy replaced again.

    Raises:
        ValueError: nothing was deployed by this process.
        httpx.HTTPError: a Rasa server refused.
    """
    previous = _deployed.get("previous")
    if previous is None:
        raise ValueError("nothing to roll back")
    load_model(rasa_urls(), previous, rasa_token())
    return previous
