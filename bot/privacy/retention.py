"""Delete what is older than the retention period (``TOUCHLINE_RETENTION_DAYS``, 90).

* **Conversations** (tracker store) whose last event is older, as a whole, except one
  whose conversation still has an open ticket (a person may be working on it).
* **Closed tickets** closed before then (their summaries are transcripts).

Usage::

    python -m bot.privacy.retention            # once, prints what it removed
    python -m bot.privacy.retention --days 30  # another period
    python -m bot.privacy.retention --daily    # now and every 24 hours (``make run``)
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import delete, select

from bot.config import settings
from bot.privacy import redactor
from bot.privacy.conversations import delete_conversations, idle_senders, tracker_engine
from bot.privacy.logs import install_log_redaction
from bot.store.db import session_scope
from bot.store.models import Ticket

log = logging.getLogger(__name__)

DAY_S = 24 * 3600


@dataclass(frozen=True)
class Removed:
    """What one retention run deleted."""

    conversations: int
    events: int
    tickets: int

    def __str__(self) -> str:
        return (f"removed {self.conversations} conversations ({self.events} events) and "
                f"{self.tickets} closed tickets")


def apply_retention(days: int, now: datetime | None = None, database_url: str | None = None,
                    tracker_db: str | Path | None = None) -> Removed:
    """Delete conversations idle for more than ``days`` and tickets closed before then.

    Args:
        days: the retention period in days (at least 1).
        now: the current time, naive UTC (default: now).
        database_url: the shop database (default ``DATABASE_URL``).
        tracker_db: the tracker store's SQLite file (default ``TRACKER_DB``).

    Returns:
        The counts deleted.

    Raises:
        ValueError: ``days`` below 1.
    """
    if days < 1:
        raise ValueError(f"a retention period of {days} days would delete everything")
    cutoff = (now or datetime.now(timezone.utc).replace(tzinfo=None)) - timedelta(days=days)
    with session_scope(database_url) as session:
        busy = set(session.scalars(select(Ticket.sender_id).where(Ticket.status == "open")))
        tickets = session.execute(delete(Ticket).where(
            Ticket.status == "closed", Ticket.closed_at < cutoff)).rowcount
    senders: list[str] = []
    events = 0
    engine = tracker_engine(tracker_db)
    if engine is not None:
        with engine.begin() as conn:
            cutoff_ts = cutoff.replace(tzinfo=timezone.utc).timestamp()
            senders = [s for s in idle_senders(conn, cutoff_ts) if s not in busy]
            events = delete_conversations(conn, senders)
        engine.dispose()
    return Removed(len(senders), events, tickets)


def run_daily(days: int) -> None:
    """Apply retention now and every 24 hours, forever; a failed run is logged and the
    next one comes a day later (the process never stops on its own)."""
    while True:
        try:
            print(apply_retention(days), flush=True)
        except Exception:  # noqa: BLE001 (a daily job must outlive a bad day)
            log.exception("retention run failed; trying again in 24 hours")
        time.sleep(DAY_S)


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module doc (log records are redacted, :mod:`bot.privacy.logs`)."""
    install_log_redaction(redactor())
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=None,
                        help="retention period (default TOUCHLINE_RETENTION_DAYS)")
    parser.add_argument("--daily", action="store_true", help="run now and every 24 hours")
    args = parser.parse_args(argv)
    days = args.days if args.days is not None else settings().retention_days
    if days < 1:
        parser.error(f"--days must be at least 1, not {days}")
    if args.daily:
        run_daily(days)
    print(apply_retention(days))


if __name__ == "__main__":
    main()
