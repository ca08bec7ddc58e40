"""When the support team is at work: the opening hours of ``$TOUCHLINE_OPENING_HOURS``.

The format is one or more ``<days> <from>-<to>`` groups separated by ``;``, days as
``Mon``..``Sun`` or a range ``Mon-Fri``, times as ``HH:MM`` in the shop's time zone
(``$TOUCHLINE_TIMEZONE``, an IANA name): ``Mon-Fri 09:00-17:30; Sat 10:00-14:00``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_GROUP = re.compile(r"\s*([A-Za-z]{3})(?:\s*-\s*([A-Za-z]{3}))?\s+(\d{1,2}):(\d{2})\s*-\s*"
                    r"(\d{1,2}):(\d{2})\s*")


@dataclass(frozen=True)
class Window:
    """One day's opening: weekday (0 = Monday) and the local times it opens and closes."""

    weekday: int
    opens: time
    closes: time


def parse_hours(text: str) -> list[Window]:
    """The opening windows of a ``$TOUCHLINE_OPENING_HOURS`` value.

    Raises:
        ValueError: a group that does not parse, an unknown day, a time out of range or a
            window that closes before it opens.
    """
    windows = []
    for group in filter(str.strip, text.split(";")):
        match = _GROUP.fullmatch(group)
        if match is None:
            raise ValueError(f"{group.strip()!r} is not like 'Mon-Fri 09:00-17:00'")
        first, last, h1, m1, h2, m2 = match.groups()
        try:
            start, end = DAYS.index(first.lower()), DAYS.index((last or first).lower())
        except ValueError:
            raise ValueError(f"unknown day in {group.strip()!r}") from None
        opens, closes = time(int(h1), int(m1)), time(int(h2), int(m2))
        if closes <= opens:
            raise ValueError(f"{group.strip()!r} closes before it opens")
        days = range(start, end + 1) if start <= end else [*range(start, 7), *range(end + 1)]
        windows += [Window(day, opens, closes) for day in days]
    return windows


def next_opening(windows: list[Window], now: datetime, zone: ZoneInfo) -> datetime | None:
    """When the team is next at work: ``now`` itself while open, else the next opening.

    Args:
        windows: from :func:`parse_hours` (empty: never open).
        now: an aware datetime.
        zone: the shop's time zone.

    Returns:
        An aware datetime in ``zone``, ``None`` when there are no windows.
    """
    local = now.astimezone(zone)
    for offset in range(8):
        day = (local + timedelta(days=offset)).date()
        for window in sorted((w for w in windows if w.weekday == day.weekday()),
                             key=lambda w: w.opens):
            opens = datetime.combine(day, window.opens, zone)
            closes = datetime.combine(day, window.closes, zone)
            if local < closes:
                return max(opens, local)
    return None


def team_next_available(hours: str, timezone: str, now: datetime) -> datetime | None:
    """:func:`next_opening` of configured hours (``$TOUCHLINE_OPENING_HOURS`` in
    ``$TOUCHLINE_TIMEZONE``); ``None`` when they do not parse (the caller says "as soon as
    they're back")."""
    try:
        return next_opening(parse_hours(hours), now, ZoneInfo(timezone))
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return None
