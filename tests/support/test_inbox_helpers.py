"""Opening hours and rating answers of the agent inbox."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.support.opening_hours import next_opening, parse_hours, team_next_available
from bot.support.rating import parse_rating

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize("now,expected", [
    (datetime(2026, 12, 7, 8, 0), datetime(2026, 12, 7, 9, 0)),     # Monday before opening
    (datetime(2026, 12, 7, 12, 30), datetime(2026, 12, 7, 12, 30)),  # open now
    (datetime(2026, 12, 11, 18, 0), datetime(2026, 12, 12, 10, 0)),  # Friday evening -> Sat
    (datetime(2026, 12, 12, 15, 0), datetime(2026, 12, 14, 9, 0)),   # Saturday after -> Mon
])
def test_next_opening(now, expected):
    windows = parse_hours("Mon-Fri 09:00-17:00; Sat 10:00-14:00")
    found = next_opening(windows, now.replace(tzinfo=LONDON), LONDON)
    assert found == expected.replace(tzinfo=LONDON)


@pytest.mark.parametrize("bad", ["Mon-Fri", "Xyz 09:00-17:00", "Mon 17:00-09:00",
                                 "Mon 25:00-26:00"])
def test_bad_hours_are_refused(bad):
    with pytest.raises(ValueError):
        parse_hours(bad)


def test_unparsable_configuration_means_unknown():
    now = datetime(2026, 12, 7, 8, 0, tzinfo=LONDON)
    assert team_next_available("whenever", "UTC", now) is None
    assert team_next_available("Mon 09:00-10:00", "Mars/Olympus", now) is None
    assert next_opening([], now, LONDON) is None


@pytest.mark.parametrize("text,expected", [
    ("4", (4, "")), ("4/5", (4, "")), ("5 stars - quick", (5, "quick")),
    ("2, slow reply", (2, "slow reply")), (" 1 ", (1, "")), ("3.5", None), ("10", None),
    ("6", None), ("where is my order", None), ("", None),
])
def test_parse_rating(text, expected):
    assert parse_rating(text) == expected
