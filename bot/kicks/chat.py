"""Kick questions in the chat: parse the form's slots into a kick spot and answer (in the
words of :mod:`bot.kicks.wording`). Used by ``actions/kicks.py`` (``action_kick_prediction``).

Slots (all optional; text or numbers):

* ``kicker``: kicker name or id;
* ``distance_m``: metres out from the try line (what fans mean by "40 metres out");
  also accepts a line name (``22``, ``halfway``, ...);
* ``touchline_m``: metres in from a touchline (either side: positions are mirrored);
* ``pitch_spot``: one or a list of ``in_front`` (in front of the posts), ``22`` (the
  22-metre line), ``halfway``, ``10m`` (the 10-metre line, 40 m out), ``5m`` (the
  5-metre line).

Without a touchline distance or ``in_front`` the kick is assumed in front of the posts,
and the answer says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.kicks import geometry
from bot.kicks.predictor import KickPredictor, ModelOutputError
from bot.kicks.wording import (
    APOLOGY,
    ASK_POSITION,
    NOT_A_DISTANCE,
    NOT_A_NUMBER,
    NOT_METRES,
    UNKNOWN_SPOT,
    kick_odds,
    off_the_pitch,
    out_of_range,
    spot_words,
)

_SPOT_ALIASES = {
    "in_front": "in_front",
    "in front": "in_front",
    "infront": "in_front",
    "in front of the posts": "in_front",
    "centre": "in_front",
    "center": "in_front",
    "22": "22",
    "twenty-two": "22",
    "twenty two": "22",
    "the 22": "22",
    "halfway": "halfway",
    "half way": "halfway",
    "halfway line": "halfway",
    "10m": "10m",
    "10": "10m",
    "10 m": "10m",
    "ten metre": "10m",
    "10-metre": "10m",
    "5m": "5m",
    "5": "5m",
    "5 m": "5m",
    "five metre": "5m",
    "5-metre": "5m",
}
_NUMBER = re.compile(
    r"^\s*(-?\d+(?:\.\d+)?)\s*(?:m|metres?|meters?|mtrs?)?\.?\s*(?:out|in|away)?\s*$", re.I
)
"""A number of metres, optionally followed by "out", "in" or "away" ("40m out"), as the
entity extractor returns such spans."""


class SlotError(ValueError):
    """A slot value could not be understood; the message is a polite reply."""


@dataclass(frozen=True)
class ChatSpot:
    """A kick spot from the slots: ``x_m`` out, ``y_m`` from the (mirrored) touchline,
    how the user put it and whether "in front" was assumed."""

    x_m: float
    y_m: float
    described: str
    assumed_in_front: bool


def parse_spots(value: Any) -> set[str]:
    """Normalised ``pitch_spot`` values from a string or a list of strings.

    Raises:
        SlotError: a value that is not a known spot.
    """
    if value is None or value == "":
        return set()
    values = value if isinstance(value, list | tuple) else [value]
    spots = set()
    for item in values:
        key = str(item).strip().lower().replace("_", " ").replace("metres", "m")
        key = "in_front" if key == "in front" else key
        if key not in _SPOT_ALIASES and key.replace(" ", "") not in _SPOT_ALIASES:
            raise SlotError(UNKNOWN_SPOT.format(value=item))
        spots.add(_SPOT_ALIASES.get(key) or _SPOT_ALIASES[key.replace(" ", "")])
    return spots


def parse_metres(value: Any, slot: str) -> float | None:
    """A number of metres from a slot value (``40``, ``"40"``, ``"40 m"``, ``"40 metres"``).

    Returns:
        The value in metres, ``None`` when the slot is empty.

    Raises:
        SlotError: not a finite number of metres.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise SlotError(NOT_METRES.format(value=value))
    if isinstance(value, int | float):
        number = float(value)
    else:
        match = _NUMBER.match(str(value))
        if not match:
            raise SlotError(NOT_A_NUMBER.format(value=value))
        number = float(match.group(1))
    if not math.isfinite(number) or number < 0:
        raise SlotError(NOT_A_DISTANCE.format(value=value))
    return number


def spot_from_slots(distance_m: Any, touchline_m: Any, pitch_spot: Any) -> ChatSpot | None:
    """Kick spot from the three position slots.

    Returns:
        :class:`ChatSpot`, or ``None`` when no distance out is given (ask for one).

    Raises:
        SlotError: unreadable values, or a spot off the pitch.
    """
    spots = parse_spots(pitch_spot)
    line = None
    if isinstance(distance_m, str) and distance_m.strip().lower() in _SPOT_ALIASES:
        spots.add(_SPOT_ALIASES[distance_m.strip().lower()])
        distance_m = None
    x = parse_metres(distance_m, "distance_m")
    for name in ("22", "10m", "halfway", "5m"):
        if name in spots and x is None:
            line, x = name, geometry.LINES_M[name]
    if x is None:
        return None
    if not geometry.MIN_KICK_X_M <= x <= geometry.PITCH_LENGTH_M:
        raise SlotError(out_of_range(x))
    touch = parse_metres(touchline_m, "touchline_m")
    if touch is not None and touch > geometry.PITCH_WIDTH_M:
        raise SlotError(off_the_pitch(touch))
    if touch is not None:
        return ChatSpot(x, touch, spot_words(line, x, touch), False)
    assumed = "in_front" not in spots
    return ChatSpot(x, geometry.CENTRE_Y_M, spot_words(line, x, None), assumed)


def kick_reply(
    kicker: Any,
    distance_m: Any,
    touchline_m: Any,
    pitch_spot: Any,
    predictor: Callable[[], KickPredictor],
) -> str:
    """The bot's answer to a kick question.

    Args:
        kicker, distance_m, touchline_m, pitch_spot: slot values (see module docstring).
        predictor: returns the loaded predictor (called only when a spot is known).

    Returns:
        One message: the odds, a request for the position, or a polite explanation of a
        value it could not use. Never raises for bad slot values.
    """
    try:
        spot = spot_from_slots(distance_m, touchline_m, pitch_spot)
    except SlotError as exc:
        return f"{exc} {ASK_POSITION}"
    if spot is None:
        return ASK_POSITION
    name = str(kicker).strip() if kicker not in (None, "") else None
    model = predictor()
    try:
        result = model.predict(x_m=spot.x_m, y_m=spot.y_m, kicker=name)
    except ModelOutputError:
        return APOLOGY
    return kick_odds(result, spot.described, name, spot.assumed_in_front)
