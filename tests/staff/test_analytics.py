"""Analytics over a real tracker store filled with Rasa events, checked against SQL written
independently of :mod:`bot.staff.analytics` (straight over the ``events`` and ``tickets``
tables, the shop database attached to the tracker's SQLite connection)."""

from __future__ import annotations

import csv
import io
import json
import statistics
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from bot.staff.analytics import Filters, conversation_rows, handoffs, summarise, to_csv, unanswered
from bot.staff.events import SQLEventSource
from testing.seeded_conversations import DAY, UNANSWERED, fill

DAY0 = datetime(2026, 11, 2, tzinfo=timezone.utc).timestamp()


@pytest.fixture
def filled(tmp_path, db_url):
    fill(tmp_path / "t.db", db_url, DAY0)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 't.db'}")
    with engine.connect() as conn:
        conn.execute(sa.text("ATTACH DATABASE :p AS shop"), {"p": db_url.split("///")[1]})
        yield engine, conn


# Independent SQL: conversations start at their first user event; times in seconds.
FIRSTS = """
WITH firsts AS (
  SELECT sender_id, min(timestamp) AS t0 FROM events
  WHERE type_name = 'user' AND timestamp >= :a AND timestamp < :b GROUP BY sender_id)
SELECT date(f.t0, 'unixepoch') AS day, json_extract(e.data, '$.input_channel') AS channel,
       count(*) AS conversations,
       sum((SELECT count(*) FROM events u WHERE u.sender_id = f.sender_id
            AND u.type_name = 'user' AND u.timestamp >= :a AND u.timestamp < :b)) AS messages
FROM firsts f JOIN events e ON e.sender_id = f.sender_id AND e.timestamp = f.t0
     AND e.type_name = 'user'
GROUP BY day, channel ORDER BY day, channel
"""
INTENT_MIX = """
SELECT intent_name, count(*) FROM events WHERE type_name = 'user'
AND timestamp >= :a AND timestamp < :b GROUP BY intent_name
"""
FALLBACKS = """
SELECT
 (SELECT count(*) FROM events WHERE type_name = 'user' AND intent_name = 'nlu_fallback'
   AND timestamp >= :a AND timestamp < :b)
 + (SELECT count(*) FROM events WHERE type_name = 'action'
   AND action_name = 'action_default_fallback' AND timestamp >= :a AND timestamp < :b)
"""
HANDOFFS = """
SELECT t.sender_id, t.reason, min((julianday(t.created_at) - 2440587.5) * 86400.0) AS opened
FROM shop.tickets t
WHERE t.takeover = 1
  AND (julianday(t.created_at) - 2440587.5) * 86400.0 >= :a
  AND (julianday(t.created_at) - 2440587.5) * 86400.0 < :b
  AND t.sender_id IN (
  SELECT sender_id FROM events WHERE type_name = 'user' AND timestamp >= :a AND timestamp < :b)
GROUP BY t.sender_id
"""
RATINGS = """
SELECT rating, count(*) FROM shop.tickets WHERE takeover = 1 AND rating IS NOT NULL
  AND (julianday(created_at) - 2440587.5) * 86400.0 >= :a
  AND (julianday(created_at) - 2440587.5) * 86400.0 < :b
  AND sender_id IN (SELECT sender_id FROM events WHERE type_name = 'user'
                    AND timestamp >= :a AND timestamp < :b)
GROUP BY rating
"""
AGENT_REPLY = """
SELECT min(e.timestamp) FROM events e WHERE e.sender_id = :s AND e.type_name = 'bot'
AND json_extract(e.data, '$.metadata.touchline_agent.id') IS NOT NULL AND e.timestamp >= :t
"""


def test_figures_match_independent_sql(filled):
    engine, conn = filled
    a, b = DAY0 + DAY, DAY0 + 5 * DAY  # a range that cuts conversations off at both ends
    window = {"a": a, "b": b}
    rows = conversation_rows(SQLEventSource(engine).events(a, b),
                             handoffs_of(engine, a, b))
    summary = summarise(rows, top=20)

    expected: dict[str, dict[str, tuple[int, int]]] = {}
    for day, channel, convs, msgs in conn.execute(sa.text(FIRSTS), window):
        expected.setdefault(day, {})[channel] = (convs, msgs)
    assert summary.per_day == expected
    assert summary.conversations == sum(c for d in expected.values() for c, _ in d.values())
    assert summary.conversations > 20

    mix = dict(conn.execute(sa.text(INTENT_MIX), window).all())
    assert dict(summary.intent_mix) == mix
    users = sum(mix.values())
    assert summary.user_messages == users
    assert summary.fallback_rate == pytest.approx(
        conn.execute(sa.text(FALLBACKS), window).scalar() / users)
    assert summary.out_of_scope_rate == pytest.approx(mix["out_of_scope"] / users)

    tickets = conn.execute(sa.text(HANDOFFS), window).all()
    assert 0 < len(tickets) < summary.conversations
    assert summary.handoff_rate == pytest.approx(len(tickets) / summary.conversations)
    assert summary.containment_rate == pytest.approx(1 - len(tickets) / summary.conversations)
    reasons: dict[str, int] = {}
    for _, reason, _ in tickets:
        reasons[reason] = reasons.get(reason, 0) + 1
    assert dict(summary.handoff_reasons) == reasons
    waits = []
    for sender, _, opened in tickets:
        first = conn.execute(sa.text(AGENT_REPLY), {"s": sender, "t": opened}).scalar()
        if first is not None and first < b:
            waits.append(first - opened)
    assert waits and summary.median_first_agent_reply_s == pytest.approx(
        statistics.median(waits), abs=0.01)
    assert dict(summary.handoff_intents) == {"human_handoff": len(tickets)}
    ratings = dict(conn.execute(sa.text(RATINGS), window).all())
    assert ratings and summary.ratings == ratings
    assert summary.mean_rating == pytest.approx(
        sum(k * v for k, v in ratings.items()) / sum(ratings.values()))


def handoffs_of(engine, a, b):
    from bot.config import settings
    from bot.store.db import session_scope

    with session_scope(settings().database_url) as s:
        return handoffs(s, a, b)


def test_channel_filter_and_csv_one_row_per_conversation(filled):
    engine, _ = filled
    a, b = DAY0, DAY0 + 8 * DAY
    every = conversation_rows(SQLEventSource(engine).events(a, b), handoffs_of(engine, a, b))
    telegram = conversation_rows(SQLEventSource(engine).events(a, b),
                                 handoffs_of(engine, a, b), channel="telegram")
    assert len(every) == 60
    assert telegram and {r.channel for r in telegram} == {"telegram"}
    assert len(telegram) == sum(r.channel == "telegram" for r in every)
    table = list(csv.DictReader(io.StringIO(to_csv(every))))
    assert [r["conversation"] for r in table] == [r.conversation for r in every]
    assert sum(int(r["handed_off"]) for r in table) == sum(r.handed_off for r in every)


def test_empty_range_has_no_rates_and_csv_cells_cannot_run_formulas(filled):
    engine, _ = filled
    summary = summarise(conversation_rows(SQLEventSource(engine).events(0, 1), {}))
    assert summary.conversations == 0 and summary.containment_rate is None
    assert summary.median_first_agent_reply_s is None and summary.mean_rating is None
    from bot.staff.analytics import ConversationRow

    text = to_csv([ConversationRow("=HYPERLINK(\"x\")", "@rest", 0.0)])
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["conversation"].startswith("'=") and row["channel"] == "'@rest"


def test_review_filters_and_unanswered_messages(filled):
    engine, conn = filled
    a, b = DAY0, DAY0 + 8 * DAY
    rows = conversation_rows(SQLEventSource(engine).events(a, b), handoffs_of(engine, a, b))
    fell = [r for r in rows if Filters(fell_back=True).keep(r)]
    assert fell and all(r.fallbacks for r in fell) and len(fell) < len(rows)
    low = [r for r in rows if Filters(rated_low=True, handed_off=True).keep(r)]
    assert low and all(r.rating in (1, 2) and r.handed_off for r in low)
    gift = [r for r in rows if Filters(text="GIFT CARD").keep(r)]
    assert gift and all(any("gift card" in t for t in r.texts) for r in gift)
    assert [r for r in rows if Filters(intent="thank").keep(r)] == [
        r for r in rows if "thank" in r.intents]
    missed = unanswered(SQLEventSource(engine).events(a, b))
    texts = {t for group in UNANSWERED.values() for t in group}
    expected = conn.execute(sa.text(
        "SELECT count(*) FROM events e WHERE e.type_name = 'user' AND (e.intent_name IN "
        "('nlu_fallback', 'out_of_scope') OR EXISTS (SELECT 1 FROM events f WHERE "
        "f.sender_id = e.sender_id AND f.type_name = 'action' AND f.action_name = "
        "'action_default_fallback' AND f.timestamp > e.timestamp AND NOT EXISTS (SELECT 1 "
        "FROM events g WHERE g.sender_id = e.sender_id AND g.type_name = 'user' AND "
        "g.timestamp > e.timestamp AND g.timestamp < f.timestamp)))")).scalar()
    assert len(missed) == expected
    assert texts <= {e.text for e in missed}  # every off-topic text was a fell-back message


def test_the_production_profile_reads_the_event_consumers_table(tmp_path, any_db_url, env):
    """With an event broker configured, the pages read the consumer's table in the shop
    database (SQLite and PostgreSQL): every event the tracker store holds, stored by the
    consumer's own writer, gives the same conversations and figures as the tracker store."""
    from bot.runtime.event_consumer import store_events
    from bot.staff.service import event_source

    fill(tmp_path / "t.db", any_db_url, DAY0)
    tracker = SQLEventSource(sa.create_engine(f"sqlite:///{tmp_path / 't.db'}"))
    with tracker.engine.connect() as conn:
        # As Rasa's tracker store publishes each event: its JSON with the sender id.
        published = [{"sender_id": sender, **json.loads(data)} for sender, data in conn.execute(
            sa.text("SELECT sender_id, data FROM events ORDER BY id"))]
    assert store_events(published + published[:5], any_db_url) == len(published)  # resent: once
    env.set("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    consumer = event_source()
    assert isinstance(consumer, SQLEventSource) and consumer.table.name == "conversation_events"
    a, b = DAY0, DAY0 + 7 * DAY

    def strip(events):  # row ids differ between the two stores
        return [e.__class__(**{**e.__dict__, "event_id": 0}) for e in events]

    assert strip(consumer.events(a, b)) == strip(tracker.events(a, b))
    assert summarise(conversation_rows(consumer.events(a, b), {})) == summarise(
        conversation_rows(tracker.events(a, b), {}))
