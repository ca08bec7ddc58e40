"""Match-event schema, ingestion and cleaning of place kicks.

Input: a file of match events, either one JSON object per line (JSON Lines) or one JSON
array of objects. Each event is an object with these keys (the schema, also in
``bot/kicks/README.md``):

===============  ========================  ==================================================
key              type                      meaning
===============  ========================  ==================================================
event_id         str                       unique id of the event
event_type       str                       ``"place_kick"``; other types (``"try"``, ...) are
                                           ignored
match_id         str                       match the event belongs to
competition      str                       competition name
season           int                       season (year it ends in)
date             str ``YYYY-MM-DD``        match date
period           int ``1..4``              1, 2 = halves; 3, 4 = extra time
clock_s          int ``>= 0``              match clock, seconds since kick-off
team             str                       kicking team
home             bool                      kicking team plays at home
score_for        int ``>= 0``              kicking team's score before the kick
score_against    int ``>= 0``              opponents' score before the kick
kicker_id        str                       stable kicker id
kicker_name      str                       kicker's display name
kick_type        ``"penalty"|"conversion"``
x_m              float                     metres out from the try line kicked at, ``0..100``
y_m              float                     metres from the left touchline, ``0..70``
outcome          ``"made"|"missed"``       result; ``null``/absent = unknown
p_true           float ``0..1`` (optional) simulated data only: true success probability
simulated        bool (optional)           the event comes from ``bot.kicks.simulate``
===============  ========================  ==================================================

Cleaning keeps place kicks only and drops anomalies, counting each reason
(:class:`CleaningReport`).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from bot.kicks import geometry

KICK_EVENT = "place_kick"
KICK_TYPES = ("penalty", "conversion")
OUTCOMES = {"made": True, "missed": False}

DROP_REASONS = (
    "malformed",
    "missing_outcome",
    "off_pitch",
    "impossible_distance",
    "duplicate",
)
"""Anomaly reasons, in the order they are checked (the first that applies counts)."""


@dataclass(frozen=True, slots=True)
class Kick:
    """One clean place kick; positions in metres, see the module schema."""

    event_id: str
    match_id: str
    competition: str
    season: int
    date: str
    period: int
    clock_s: int
    team: str
    home: bool
    score_for: int
    score_against: int
    kicker_id: str
    kicker_name: str
    kick_type: str
    x_m: float
    y_m: float
    made: bool
    p_true: float | None = None

    @property
    def distance_m(self) -> float:
        """Metres to the centre between the posts."""
        return geometry.distance_to_posts(self.x_m, self.y_m)

    @property
    def angle_deg(self) -> float:
        """Degrees off the centre line (0 = straight in front)."""
        return geometry.angle_to_posts(self.x_m, self.y_m)

    @property
    def zone(self) -> str:
        """Field zone (:func:`bot.kicks.geometry.field_zone`)."""
        return geometry.field_zone(self.distance_m, self.angle_deg)

    @property
    def minute(self) -> int:
        """Match minute (``clock_s // 60``)."""
        return self.clock_s // 60

    @property
    def score_diff(self) -> int:
        """Kicking team's score minus the opponents', before the kick."""
        return self.score_for - self.score_against

    @property
    def order_key(self) -> tuple[str, str, int, str]:
        """Chronological sort key: date, match, match clock, event id."""
        return (self.date, self.match_id, self.clock_s, self.event_id)

    def to_event(self) -> dict[str, Any]:
        """The kick as a schema event (``event_type`` and ``outcome`` filled in)."""
        event = asdict(self)
        made = event.pop("made")
        event["event_type"] = KICK_EVENT
        event["outcome"] = "made" if made else "missed"
        if event["p_true"] is None:
            del event["p_true"]
        return event


@dataclass
class CleaningReport:
    """What cleaning kept and dropped.

    Attributes:
        total: events read.
        not_kicks: events of another type (ignored, not anomalies).
        kept: clean kicks returned.
        dropped: anomaly reason (one of :data:`DROP_REASONS`) -> count.
        dropped_ids: anomaly reason -> event ids (``None`` when the id was missing).
    """

    total: int = 0
    not_kicks: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    dropped_ids: dict[str, list[str | None]] = field(default_factory=dict)

    def drop(self, reason: str, event_id: str | None) -> None:
        """Count one dropped event under ``reason``."""
        self.dropped[reason] += 1
        self.dropped_ids.setdefault(reason, []).append(event_id)

    def summary(self) -> str:
        """One line, e.g. ``"read 10, kept 7, ignored 1 non-kick, dropped 2 (duplicate: 2)"``."""
        drops = ", ".join(f"{r}: {self.dropped[r]}" for r in DROP_REASONS if self.dropped[r])
        return (
            f"read {self.total}, kept {self.kept}, ignored {self.not_kicks} non-kick, "
            f"dropped {sum(self.dropped.values())}" + (f" ({drops})" if drops else "")
        )


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """Read raw events from a JSON Lines file or a JSON array file.

    Args:
        path: file to read (UTF-8).

    Returns:
        The events as dicts; non-object JSON values are kept for cleaning to reject.

    Raises:
        ValueError: the file is neither JSON Lines nor a JSON array (message gives the
            line number).
    """
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        data = json.loads(text)
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON array of events")
        return data
    events = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from exc
    return events


def write_events(events: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """Write events as JSON Lines (UTF-8), creating parent folders.

    Args:
        events: schema events.
        path: destination file.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for event in events:
            fh.write(json.dumps(event, separators=(",", ":")) + "\n")
    return path


class _Malformed(ValueError):
    """A required field is missing or has the wrong type."""


def _str(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _Malformed(key)
    return value.strip()


def _int(event: dict[str, Any], key: str, low: int, high: int) -> int:
    value = event.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Malformed(key)
    return value


def _float(event: dict[str, Any], key: str) -> float:
    value = event.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Malformed(key)
    return float(value)


def _parse(event: dict[str, Any]) -> dict[str, Any]:
    """Typed fields of a kick event, outcome excluded; raises :class:`_Malformed`."""
    kick_type = _str(event, "kick_type")
    if kick_type not in KICK_TYPES:
        raise _Malformed("kick_type")
    day = _str(event, "date")
    try:
        date.fromisoformat(day)
    except ValueError as exc:
        raise _Malformed("date") from exc
    home = event.get("home")
    if not isinstance(home, bool):
        raise _Malformed("home")
    p_true = event.get("p_true")
    if p_true is not None and not (
        isinstance(p_true, int | float) and not isinstance(p_true, bool) and 0 <= p_true <= 1
    ):
        raise _Malformed("p_true")
    return {
        "event_id": _str(event, "event_id"),
        "match_id": _str(event, "match_id"),
        "competition": _str(event, "competition"),
        "season": _int(event, "season", 1870, 2100),
        "date": day,
        "period": _int(event, "period", 1, 4),
        "clock_s": _int(event, "clock_s", 0, 3 * 3600),
        "team": _str(event, "team"),
        "home": home,
        "score_for": _int(event, "score_for", 0, 1000),
        "score_against": _int(event, "score_against", 0, 1000),
        "kicker_id": _str(event, "kicker_id"),
        "kicker_name": _str(event, "kicker_name"),
        "kick_type": kick_type,
        "x_m": _float(event, "x_m"),
        "y_m": _float(event, "y_m"),
        "p_true": None if p_true is None else float(p_true),
    }


def _anomaly(fields: dict[str, Any], outcome: Any) -> str | None:
    """Reason a parsed kick is an anomaly, or ``None`` if it is clean."""
    if outcome not in OUTCOMES:
        return "missing_outcome"
    x, y = fields["x_m"], fields["y_m"]
    if not (math.isfinite(x) and math.isfinite(y)) or not geometry.is_on_pitch(x, y):
        return "off_pitch"
    if x < geometry.MIN_KICK_X_M or geometry.distance_to_posts(x, y) > (
        geometry.MAX_KICK_DISTANCE_M
    ):
        return "impossible_distance"
    return None


def clean_events(events: Iterable[Any]) -> tuple[list[Kick], CleaningReport]:
    """Keep place kicks, drop anomalies, sort chronologically.

    Anomalies (first matching reason counts): ``malformed`` (a required field missing or
    of the wrong type), ``missing_outcome`` (``outcome`` not ``"made"``/``"missed"``),
    ``off_pitch`` (``x``/``y`` outside 0..100 x 0..70 or not finite),
    ``impossible_distance`` (closer than :data:`geometry.MIN_KICK_X_M` to the try line or
    further than :data:`geometry.MAX_KICK_DISTANCE_M` from the posts), ``duplicate`` (an
    ``event_id`` or a (match, clock, kicker, kick type) already kept; the first is kept).

    Args:
        events: raw events (dicts, as from :func:`read_events`).

    Returns:
        ``(kicks, report)``: kicks sorted by :attr:`Kick.order_key`.
    """
    report = CleaningReport()
    kicks: list[Kick] = []
    seen_ids: set[str] = set()
    seen_keys: set[tuple[str, int, str, str]] = set()
    for event in events:
        report.total += 1
        if not isinstance(event, dict):
            report.drop("malformed", None)
            continue
        if event.get("event_type") != KICK_EVENT:
            report.not_kicks += 1
            continue
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        try:
            fields = _parse(event)
        except _Malformed:
            report.drop("malformed", event_id)
            continue
        reason = _anomaly(fields, event.get("outcome"))
        key = (fields["match_id"], fields["clock_s"], fields["kicker_id"], fields["kick_type"])
        if reason is None and (fields["event_id"] in seen_ids or key in seen_keys):
            reason = "duplicate"
        if reason:
            report.drop(reason, event_id)
            continue
        seen_ids.add(fields["event_id"])
        seen_keys.add(key)
        kicks.append(Kick(**fields, made=OUTCOMES[event["outcome"]]))
    kicks.sort(key=lambda k: k.order_key)
    report.kept = len(kicks)
    return kicks, report
