"""Conversation analytics for support staff: volume, intents, containment, handoffs, ratings.

Input: conversation events (:class:`bot.staff.events.EventSource`) and the handoffs of the
shop database (:func:`handoffs`). A conversation is a Rasa sender id with at least one
user message in the range; its channel is that of its first user message in the range and
its day is that message's UTC day.

Definitions (the page and the CSV use the same):

- *fell back*: a user message predicted as :data:`FALLBACK_INTENT`, or answered by
  :data:`FALLBACK_ACTION` before the next user message; *out of scope*: predicted as
  :data:`OUT_OF_SCOPE_INTENT`. Both rates are shares of user messages.
- *handed off*: the conversation has a takeover ticket opened in the range; the *handoff
  rate* is the share of conversations handed off and the *containment rate* the rest.
- *handoff intent*: the intent of the last user message before the ticket was opened.
- *first agent reply*: seconds from the ticket's opening to the first bot message with an
  agent id (:data:`bot.support.messages.AGENT_KEY`) after it.
- *low confidence*: a user message whose confidence is below :data:`LOW_CONFIDENCE`.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import groupby

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.staff.events import ACTION, BOT, USER, ConversationEvent
from bot.store.models import Ticket

FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTION = "action_default_fallback"
OUT_OF_SCOPE_INTENT = "out_of_scope"
"""Names from ``config.yml`` (FallbackClassifier, RulePolicy) and ``domain.yml``."""
LOW_CONFIDENCE = 0.5
"""A user message under this intent confidence is shown as "low confidence" in review."""


@dataclass(frozen=True)
class Handoff:
    """A conversation's takeover ticket.

    Attributes:
        conversation: the Rasa sender id.
        reason: the ticket's reason (``handoff``, ``double_charge``...).
        at: when it was opened, Unix seconds.
        rating: the customer's 1-5 rating of the help, if given (asked for when the agent
            inbox closes the ticket, ``tickets.rating``).
    """

    conversation: str
    reason: str
    at: float
    rating: int | None = None


@dataclass
class ConversationRow:
    """One conversation of the range (one CSV row)."""

    conversation: str
    channel: str
    started_at: float
    user_messages: int = 0
    bot_messages: int = 0
    agent_messages: int = 0
    intents: list[str] = field(default_factory=list)
    fallbacks: int = 0
    out_of_scope: int = 0
    low_confidence: int = 0
    handed_off: bool = False
    handoff_reason: str = ""
    handoff_intent: str = ""
    first_agent_reply_s: float | None = None
    rating: int | None = None
    texts: list[str] = field(default_factory=list)
    """The user messages (for search; not exported)."""

    @property
    def day(self) -> str:
        """UTC day of the first user message, ``YYYY-MM-DD``."""
        return datetime.fromtimestamp(self.started_at, timezone.utc).date().isoformat()


@dataclass(frozen=True)
class Summary:
    """The figures of the analytics page (rates in [0, 1], ``None`` without data)."""

    conversations: int
    user_messages: int
    per_day: dict[str, dict[str, tuple[int, int]]]
    """``day -> channel -> (conversations, user messages)``."""
    intent_mix: list[tuple[str, int]]
    containment_rate: float | None
    handoff_rate: float | None
    fallback_rate: float | None
    out_of_scope_rate: float | None
    handoff_reasons: list[tuple[str, int]]
    median_first_agent_reply_s: float | None
    ratings: dict[int, int]
    mean_rating: float | None
    handoff_intents: list[tuple[str, int]]


def conversation_rows(events: Iterable[ConversationEvent], handoffs: Mapping[str, Handoff],
                      channel: str | None = None) -> list[ConversationRow]:
    """One row per conversation with a user message among ``events``.

    Args:
        events: grouped by conversation, oldest first (as an ``EventSource`` yields them).
        handoffs: the range's takeover tickets by conversation (:func:`handoffs`).
        channel: keep only conversations of this channel; ``None`` for all.

    Returns:
        Rows in the order of the events.
    """
    rows = []
    for conversation, group in groupby(events, key=lambda e: e.conversation):
        row = _row(conversation, list(group), handoffs.get(conversation))
        if row is not None and (channel is None or row.channel == channel):
            rows.append(row)
    return rows


def _row(conversation: str, events: list[ConversationEvent],
         handoff: Handoff | None) -> ConversationRow | None:
    """The row of one conversation's events, ``None`` without a user message."""
    users = [e for e in events if e.kind == USER]
    if not users:
        return None
    row = ConversationRow(conversation, users[0].channel or "unknown", users[0].at)
    last_intent, counted = "", True
    for event in events:
        if event.kind == USER:
            row.user_messages += 1
            row.texts.append(event.text or "")
            intent = event.intent or ""
            row.intents.append(intent)
            row.fallbacks += intent == FALLBACK_INTENT
            row.out_of_scope += intent == OUT_OF_SCOPE_INTENT
            row.low_confidence += (event.confidence or 0.0) < LOW_CONFIDENCE
            counted = intent == FALLBACK_INTENT
            if handoff is None or event.at <= handoff.at:
                last_intent = intent
        elif event.kind == ACTION and event.action == FALLBACK_ACTION and not counted:
            row.fallbacks += 1
            counted = True
        elif event.kind == BOT:
            row.bot_messages += 1
            if event.agent is not None:
                row.agent_messages += 1
                if handoff is not None and event.at >= handoff.at and \
                        row.first_agent_reply_s is None:
                    row.first_agent_reply_s = event.at - handoff.at
    if handoff is not None:
        row.handed_off, row.handoff_reason = True, handoff.reason
        row.handoff_intent, row.rating = last_intent, handoff.rating
    return row


def summarise(rows: list[ConversationRow], top: int = 10) -> Summary:
    """The page's figures over the rows (see the module docstring for each definition).

    Args:
        rows: from :func:`conversation_rows`.
        top: length of the intent and handoff-intent lists.
    """
    per_day: dict[str, dict[str, tuple[int, int]]] = {}
    for row in rows:
        day = per_day.setdefault(row.day, {})
        convs, msgs = day.get(row.channel, (0, 0))
        day[row.channel] = (convs + 1, msgs + row.user_messages)
    users = sum(r.user_messages for r in rows)
    handed = [r for r in rows if r.handed_off]
    replies = [r.first_agent_reply_s for r in handed if r.first_agent_reply_s is not None]
    ratings = Counter(r.rating for r in rows if r.rating is not None)
    rated = sum(ratings.values())
    return Summary(
        conversations=len(rows), user_messages=users,
        per_day=dict(sorted(per_day.items())),
        intent_mix=_ranked(Counter(i for r in rows for i in r.intents if i), top),
        containment_rate=1 - len(handed) / len(rows) if rows else None,
        handoff_rate=len(handed) / len(rows) if rows else None,
        fallback_rate=sum(r.fallbacks for r in rows) / users if users else None,
        out_of_scope_rate=sum(r.out_of_scope for r in rows) / users if users else None,
        handoff_reasons=_ranked(Counter(r.handoff_reason for r in handed), top),
        median_first_agent_reply_s=statistics.median(replies) if replies else None,
        ratings={k: ratings[k] for k in sorted(ratings)},
        mean_rating=sum(k * v for k, v in ratings.items()) / rated if rated else None,
        handoff_intents=_ranked(Counter(r.handoff_intent for r in handed if r.handoff_intent),
                                top),
    )


def _ranked(counts: Counter[str], top: int) -> list[tuple[str, int]]:
    """The ``top`` most common items, ties by name."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


CSV_COLUMNS = ("conversation", "channel", "started_at", "user_messages", "bot_messages",
               "agent_messages", "intents", "fallbacks", "out_of_scope", "low_confidence",
               "handed_off", "handoff_reason", "handoff_intent", "first_agent_reply_s",
               "rating")


def to_csv(rows: Iterable[ConversationRow]) -> str:
    """The rows as CSV text with a header (:data:`CSV_COLUMNS`); ``started_at`` in ISO 8601
    UTC, ``intents`` joined by spaces, empty cells for missing values.

    Cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
    ``@``) get a leading apostrophe (OWASP's CSV-injection advice); conversation ids come
    from the channels and are not trusted.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        started = datetime.fromtimestamp(r.started_at, timezone.utc).isoformat()
        values = [r.conversation, r.channel, started, r.user_messages, r.bot_messages,
                  r.agent_messages, " ".join(r.intents), r.fallbacks, r.out_of_scope,
                  r.low_confidence, int(r.handed_off), r.handoff_reason, r.handoff_intent,
                  "" if r.first_agent_reply_s is None else round(r.first_agent_reply_s, 3),
                  "" if r.rating is None else r.rating]
        writer.writerow([_inert(v) for v in values])
    return out.getvalue()


def _inert(value: object) -> object:
    """A text cell that cannot start a spreadsheet formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def handoffs(session: Session, start: float, end: float) -> dict[str, Handoff]:
    """The takeover tickets opened in ``[start, end)`` (Unix seconds), the first of each
    conversation.

    Args:
        session: a shop-database session.
        start: range start; end: range end.

    Returns:
        ``sender id -> Handoff``.
    """
    low = datetime.fromtimestamp(start, timezone.utc).replace(tzinfo=None)
    high = datetime.fromtimestamp(end, timezone.utc).replace(tzinfo=None)
    tickets = session.scalars(
        select(Ticket).where(Ticket.takeover.is_(True), Ticket.created_at >= low,
                             Ticket.created_at < high).order_by(Ticket.created_at, Ticket.id)
    )
    found: dict[str, Handoff] = {}
    for t in tickets:
        at = t.created_at.replace(tzinfo=timezone.utc).timestamp()
        found.setdefault(t.sender_id, Handoff(t.sender_id, t.reason, at, t.rating))
    return found


@dataclass(frozen=True)
class Filters:
    """What the review page narrows conversations to (``None``/``False``: no condition).

    Attributes:
        intent: some user message was predicted as this intent.
        fell_back: some user message fell back.
        handed_off: a person took over.
        low_confidence: some user message was under :data:`LOW_CONFIDENCE`.
        rated_low: the customer rated the help 1 or 2.
        text: some user message contains this (case-insensitive).
    """

    intent: str | None = None
    fell_back: bool = False
    handed_off: bool = False
    low_confidence: bool = False
    rated_low: bool = False
    text: str | None = None

    def keep(self, row: ConversationRow) -> bool:
        """Whether ``row`` meets every condition."""
        needle = (self.text or "").casefold()
        return ((self.intent is None or self.intent in row.intents)
                and (not self.fell_back or row.fallbacks > 0)
                and (not self.handed_off or row.handed_off)
                and (not self.low_confidence or row.low_confidence > 0)
                and (not self.rated_low or (row.rating is not None and row.rating <= 2))
                and (not needle or any(needle in t.casefold() for t in row.texts)))


def unanswered(events: Iterable[ConversationEvent]) -> list[ConversationEvent]:
    """The user messages the bot could not answer: predicted as :data:`FALLBACK_INTENT` or
    :data:`OUT_OF_SCOPE_INTENT`, or answered by :data:`FALLBACK_ACTION`.

    Args:
        events: grouped by conversation, oldest first.

    Returns:
        Those user events, in order.
    """
    found: list[ConversationEvent] = []
    last: ConversationEvent | None = None
    for event in events:
        if event.kind == USER:
            last = event
            if event.intent in (FALLBACK_INTENT, OUT_OF_SCOPE_INTENT):
                found.append(event)
        elif (event.kind == ACTION and event.action == FALLBACK_ACTION and last is not None
              and last.conversation == event.conversation and (not found or found[-1] is not last)):
            found.append(last)
    return found
