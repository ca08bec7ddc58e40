"""The persistent scheduler's job table: plan a job once, and let exactly one server run it.

Jobs live in ``scheduled_jobs`` (:class:`bot.store.models.ScheduledJob`), so they survive
restarts. Planning is idempotent: ``(kind, key)`` is unique and :func:`schedule` inserts
with ``ON CONFLICT DO NOTHING``. Running is exclusive: :func:`claim_due` moves due jobs
from ``pending`` to ``claimed`` for one worker in one transaction, so of several servers
polling the same table each job goes to exactly one:

- PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` picks rows no other transaction holds
  (the others skip them instead of waiting), then they are marked claimed before commit.
- SQLite: one conditional ``UPDATE ... WHERE id = ? AND status = 'pending'`` per row; the
  database's single write lock orders the servers, and a row another worker claimed first
  updates nothing (rowcount 0).

A job is claimed before it runs and never handed out again, so a server that dies between
claiming and finishing leaves it ``claimed``: at most once, never twice (a reminder sent
twice is worse than one missed). Only the server holding a claim may hand the job back for
later (:func:`postpone`), before it has done anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.store.db import insert_once
from bot.store.models import ScheduledJob

PENDING, CLAIMED, DONE, SKIPPED, FAILED = "pending", "claimed", "done", "skipped", "failed"
"""Job states (``status`` column)."""


@dataclass(frozen=True)
class Job:
    """A claimed job: its id, kind, key and payload."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]


def schedule(session: Session, kind: str, key: str, run_at: datetime,
             payload: dict[str, Any]) -> bool:
    """Plan a job unless one of the same ``kind`` and ``key`` already exists (any state).

    Args:
        session: open session (the insert joins its transaction).
        kind: what runs it (``cart_reminder``).
        key: what it is about; include the period to allow one per period.
        run_at: naive UTC time from which it may run.
        payload: JSON-serialisable arguments.

    Returns:
        ``True`` when planned now, ``False`` when it already existed.
    """
    return insert_once(session, ScheduledJob.__table__,
                       {"kind": kind, "key": key, "run_at": run_at, "payload": payload,
                        "status": PENDING, "detail": ""}, ["kind", "key"])


def claim_due(session: Session, now: datetime, worker: str, limit: int = 20,
              kind: str | None = None) -> list[Job]:
    """Claim up to ``limit`` pending jobs due at ``now`` for ``worker`` (see the module
    docstring for why no other worker can claim the same job).

    Args:
        session: open session; commit it to publish the claims (the caller's
            ``session_scope`` does).
        now: naive UTC "now" (the scheduler's clock).
        worker: name of the claiming server (stored in ``claimed_by``).
        limit: most jobs per call.
        kind: only jobs of this kind; ``None`` for any.

    Returns:
        The jobs this worker now holds, oldest due first.
    """
    due = (select(ScheduledJob.id, ScheduledJob.kind, ScheduledJob.key, ScheduledJob.payload)
           .where(ScheduledJob.status == PENDING, ScheduledJob.run_at <= now,
                  *([ScheduledJob.kind == kind] if kind else []))
           .order_by(ScheduledJob.run_at, ScheduledJob.id).limit(limit))
    claim = {"status": CLAIMED, "claimed_by": worker[:100], "claimed_at": now}
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(due.with_for_update(skip_locked=True)).all()
        if rows:
            session.execute(update(ScheduledJob).where(
                ScheduledJob.id.in_([r.id for r in rows])).values(**claim))
        return [Job(r.id, r.kind, r.key, dict(r.payload)) for r in rows]
    claimed = []
    for row in session.execute(due).all():
        result = session.execute(update(ScheduledJob).where(
            ScheduledJob.id == row.id, ScheduledJob.status == PENDING).values(**claim))
        if result.rowcount == 1:
            claimed.append(Job(row.id, row.kind, row.key, dict(row.payload)))
    return claimed


def finish(session: Session, job_id: int, status: str, now: datetime, detail: str = "") -> None:
    """Record how a claimed job ended (:data:`DONE`, :data:`SKIPPED` or :data:`FAILED`)."""
    session.execute(update(ScheduledJob).where(ScheduledJob.id == job_id).values(
        status=status, finished_at=now, detail=detail[:2000]))


def postpone(session: Session, job_id: int, run_at: datetime, detail: str = "") -> None:
    """Hand a claimed job back, to be claimed again from ``run_at`` (naive UTC): for a job
    whose holder found it should not run yet and did nothing (a reminder for a customer
    in the middle of a chat)."""
    session.execute(update(ScheduledJob).where(
        ScheduledJob.id == job_id, ScheduledJob.status == CLAIMED).values(
        status=PENDING, run_at=run_at, claimed_by=None, claimed_at=None, detail=detail[:2000]))
