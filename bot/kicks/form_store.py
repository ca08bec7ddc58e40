"""Kicker-form store: queries over its tables in the shop database (defined in
:mod:`bot.store.models`, created by the Alembic migrations: ``make db``):

* ``kick_form``: ``(kicker_id, scope, key) -> attempts, made`` (see :mod:`bot.kicks.form`;
  kicker ``"*"`` = all kickers);
* ``kick_kickers``: kicker id, display name, team, date of the last kick seen;
* ``kick_events_seen``: id and date of every kick counted, so an update counts each event
  once.

A full training run replaces the tables (:func:`replace_all`); ``train --update`` adds
new kicks incrementally (:func:`apply_update`). One writer at a time is assumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Connection, Engine

from bot.kicks.events import Kick
from bot.kicks.features import build_features
from bot.kicks.form import ALL_KICKERS, FormCounts, Key
from bot.store.models import KickEventSeen, KickForm, KickKicker

TABLES = [KickForm.__table__, KickKicker.__table__, KickEventSeen.__table__]


def _kicker_rows(kicks: Sequence[Kick]) -> dict[str, dict[str, str]]:
    latest: dict[str, dict[str, str]] = {}
    for kick in kicks:
        latest[kick.kicker_id] = {
            "kicker_id": kick.kicker_id,
            "name": kick.kicker_name,
            "team": kick.team,
            "last_date": kick.date,
        }
    return latest


def replace_all(engine: Engine, counts: FormCounts, kicks: Sequence[Kick]) -> None:
    """Replace the store's content with ``counts`` and the kickers and ids of ``kicks``.

    Args:
        engine: database engine (migrated: the tables must exist).
        counts: form counts after all of ``kicks``.
        kicks: every kick counted (chronological; the latest name per kicker wins).
    """
    with engine.begin() as conn:
        for table in TABLES:
            conn.execute(delete(table))
        form_rows = [
            {"kicker_id": k[0], "scope": k[1], "key": k[2], "attempts": v[0], "made": v[1]}
            for k, v in counts.counts.items()
        ]
        if form_rows:
            conn.execute(KickForm.__table__.insert(), form_rows)
        kicker_rows = list(_kicker_rows(kicks).values())
        if kicker_rows:
            conn.execute(KickKicker.__table__.insert(), kicker_rows)
            conn.execute(
                KickEventSeen.__table__.insert(),
                [{"event_id": k.event_id, "date": k.date} for k in kicks],
            )


def load_counts(engine: Engine) -> FormCounts:
    """All form counts as a :class:`FormCounts` (empty if the store is empty)."""
    with engine.connect() as conn:
        rows = conn.execute(select(KickForm.__table__)).all()
    return FormCounts({(r.kicker_id, r.scope, r.key): [r.attempts, r.made] for r in rows})


def load_kickers(engine: Engine) -> dict[str, str]:
    """``{kicker_id: name}`` of every kicker in the store."""
    with engine.connect() as conn:
        rows = conn.execute(select(KickKicker.kicker_id, KickKicker.name)).all()
    return {r.kicker_id: r.name for r in rows}


def count_kicks(engine: Engine) -> int:
    """Number of kicks counted in the store."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(KickEventSeen)).scalar_one())


@dataclass
class UpdateResult:
    """Outcome of :func:`apply_update`.

    Attributes:
        X, y: features (form before each kick) and labels of the new kicks, as
            :func:`bot.kicks.features.build_features` returns them.
        new: the kicks counted; skipped: ids already in the store (not counted again).
        out_of_order: new kicks dated before the latest kick already stored (their form
            features only see what was stored before them).
    """

    X: np.ndarray
    y: np.ndarray
    new: list[Kick]
    skipped: list[str]
    out_of_order: int


def apply_update(engine: Engine, kicks: Sequence[Kick]) -> UpdateResult:
    """Count new kicks into the store without reprocessing history, in one transaction.

    Only the form rows the new kicks touch are read back and changed (``attempts =
    attempts + n``); new rows are inserted.

    Args:
        engine: database engine.
        kicks: clean kicks, chronological; those already stored are skipped.

    Returns:
        :class:`UpdateResult`.
    """
    ids = [k.event_id for k in kicks]
    with engine.begin() as conn:
        seen = {
            r.event_id
            for chunk in range(0, len(ids), 500)
            for r in conn.execute(
                select(KickEventSeen.event_id).where(
                    KickEventSeen.event_id.in_(ids[chunk : chunk + 500])
                )
            )
        }
        new = [k for k in kicks if k.event_id not in seen]
        latest = conn.execute(select(func.max(KickEventSeen.date))).scalar_one()
        needed: set[Key] = set()
        for kick in new:
            needed.update(FormCounts.keys(kick.kicker_id, kick.zone, kick.competition))
            needed.update(FormCounts.keys(ALL_KICKERS, kick.zone, kick.competition))
        before = _read_keys(conn, needed)
        counts = FormCounts(before)
        X, y = build_features(new, counts)
        inserts, updates = [], []
        for key in needed:
            attempts, made = counts.counts[key]
            old = before.get(key, [0, 0])
            row = {"k": key[0], "s": key[1], "kk": key[2]}
            if key in before:
                updates.append({**row, "da": attempts - old[0], "dm": made - old[1]})
            else:
                inserts.append(
                    {
                        "kicker_id": key[0],
                        "scope": key[1],
                        "key": key[2],
                        "attempts": attempts,
                        "made": made,
                    }
                )
        if updates:
            conn.execute(
                update(KickForm.__table__)
                .where(
                    (KickForm.kicker_id == bindparam("k"))
                    & (KickForm.scope == bindparam("s"))
                    & (KickForm.key == bindparam("kk"))
                )
                .values(
                    attempts=KickForm.attempts + bindparam("da"),
                    made=KickForm.made + bindparam("dm"),
                ),
                updates,
            )
        if inserts:
            conn.execute(KickForm.__table__.insert(), inserts)
        _upsert_kickers(conn, _kicker_rows(new))
        if new:
            conn.execute(
                KickEventSeen.__table__.insert(),
                [{"event_id": k.event_id, "date": k.date} for k in new],
            )
    return UpdateResult(
        X=X,
        y=y,
        new=new,
        skipped=sorted(seen),
        out_of_order=sum(1 for k in new if latest and k.date < latest),
    )


def _read_keys(conn: Connection, keys: set[Key]) -> dict[Key, list[int]]:
    """Counts of ``keys`` present in ``kick_form`` (one query per kicker id)."""
    by_kicker: dict[str, set[Key]] = {}
    for key in keys:
        by_kicker.setdefault(key[0], set()).add(key)
    found: dict[Key, list[int]] = {}
    for kicker_id, wanted in by_kicker.items():
        rows = conn.execute(select(KickForm.__table__).where(KickForm.kicker_id == kicker_id))
        for r in rows:
            key = (r.kicker_id, r.scope, r.key)
            if key in wanted:
                found[key] = [r.attempts, r.made]
    return found


def _upsert_kickers(conn: Connection, rows: dict[str, dict[str, str]]) -> None:
    """Insert new kickers, refresh name/team/last date of known ones."""
    if not rows:
        return
    existing = set(
        conn.execute(
            select(KickKicker.kicker_id).where(KickKicker.kicker_id.in_(list(rows)))
        ).scalars()
    )
    fresh = [r for k, r in rows.items() if k not in existing]
    if fresh:
        conn.execute(KickKicker.__table__.insert(), fresh)
    for kicker_id in existing:
        conn.execute(
            update(KickKicker.__table__)
            .where(KickKicker.kicker_id == kicker_id)
            .values(
                name=rows[kicker_id]["name"],
                team=rows[kicker_id]["team"],
                last_date=rows[kicker_id]["last_date"],
            )
        )
