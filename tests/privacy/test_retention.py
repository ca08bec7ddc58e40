"""Retention: idle conversations and long-closed tickets go; recent ones and conversations
a person still works on stay."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.config import PROJECT_ROOT, Settings
from bot.privacy.retention import apply_retention
from bot.store.db import session_scope
from bot.store.models import Ticket
from bot.store.tickets import close_ticket, open_ticket


def history(session, tracker) -> None:
    """Conversations and tickets of several ages."""
    tracker.conversation("old", "card 4111 1111 1111 1111", age_days=100)
    tracker.conversation("old", "and again", age_days=95)
    tracker.conversation("old-then-recent", "hi", age_days=200)
    tracker.conversation("old-then-recent", "back again", age_days=1)
    tracker.conversation("recent", "hello", age_days=0.5)
    tracker.conversation("waiting-for-a-person", "help", age_days=120)
    open_ticket(session, "waiting-for-a-person", None, "handoff", "Customer: help", True)
    long_closed = open_ticket(session, "old", None, "handoff", "Customer: card", True).ticket
    close_ticket(session, long_closed.id)
    long_closed.closed_at = datetime.utcnow() - timedelta(days=91)
    recently_closed = open_ticket(session, "recent", None, "handoff", "Customer: hi", True)
    close_ticket(session, recently_closed.ticket.id)
    session.commit()


def test_retention_deletes_what_is_older_than_the_period(db_url, session, tracker):
    history(session, tracker)
    removed = apply_retention(90, database_url=db_url, tracker_db=tracker.path)
    assert (removed.conversations, removed.events, removed.tickets) == (1, 6, 1)
    assert tracker.senders() == ["old-then-recent", "recent", "waiting-for-a-person"]
    with session_scope(db_url) as s:
        assert sorted(s.scalars(select(Ticket.sender_id))) == ["recent", "waiting-for-a-person"]
    again = apply_retention(90, database_url=db_url, tracker_db=tracker.path)
    assert (again.conversations, again.tickets) == (0, 0)


def test_the_command_uses_the_setting_and_prints_what_it_removed(db_url, session, tracker, env):
    history(session, tracker)
    env.set("TOUCHLINE_RETENTION_DAYS", "150")
    out = subprocess.run([sys.executable, "-m", "bot.privacy.retention"], cwd=PROJECT_ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "removed 0 conversations (0 events) and 0 closed tickets"
    out = subprocess.run([sys.executable, "-m", "bot.privacy.retention", "--days", "30"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "removed 1 conversations (6 events) and 1 closed tickets"


def test_a_retention_period_below_one_day_is_refused(env, tmp_path):
    with pytest.raises(ValueError, match="TOUCHLINE_RETENTION_DAYS"):
        Settings.from_env({"TOUCHLINE_RETENTION_DAYS": "0"})
    assert Settings.from_env({}).retention_days == 90
    with pytest.raises(ValueError, match="would delete everything"):
        apply_retention(0, tracker_db=tmp_path / "none.db")
    bad = subprocess.run([sys.executable, "-m", "bot.privacy.retention", "--days", "0"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "at least 1" in bad.stderr


def test_redaction_switches_parse_strictly():
    assert Settings.from_env({"TOUCHLINE_REDACT_EMAILS": "yes"}).redact_emails
    assert not Settings.from_env({}).redact_phones
    with pytest.raises(ValueError, match="TOUCHLINE_REDACT_PHONES"):
        Settings.from_env({"TOUCHLINE_REDACT_PHONES": "maybe"})
