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


NEAR_TOUCH_M = 5.0
"""Metres in from touch read for "near the touchline" / "out wide": the 5-metre line,
the nearest line to touch that World Rugby's pitch markings draw."""
_TOUCH_M = re.compile(
    r"(\d{1,3}(?:\.\d+)?)\s*(?:m\b|metres?\b|meters?\b)?\s*(?:in\s+)?from\s+(?:the\s+)?"
    r"(?:left\s+|right\s+)?(?:touch(?:\s*line)?|side(?:\s*line)?)", re.I)
_NEAR_TOUCH = re.compile(
    r"\b(?:near|by|on|close to|next to|along|out on|from|at)\s+(?:the\s+)?(?:left\s+|right\s+)?"
    r"(?:touch\s*line|touch|side\s*line|wing)\b|\bout wide\b|\bwide out\b|\bon the wing\b",
    re.I)
_IN_FRONT = re.compile(
    r"\b(?:in front(?: of (?:the )?posts)?|under the posts|straight on|dead cent(?:re|er)|"
    r"(?:in the )?middle|cent(?:re|er) of the pitch)\b", re.I)
_LINES = (
    ("halfway", re.compile(r"\bhalf\s?way\b", re.I)),
    ("10m", re.compile(r"\b(?:10|ten)[\s-]?m(?:et(?:re|er))?\s+line\b", re.I)),
    ("5m", re.compile(r"\b(?:5|five)[\s-]?m(?:et(?:re|er))?\s+line\b", re.I)),
    ("22", re.compile(r"\b(?:the|on|from|at)\s+(?:22|twenty[\s-]?two)\b(?!\s*m)", re.I)),
)
_OUT_M = re.compile(
    r"(?<![\w.])(\d{1,3}(?:\.\d+)?)\s*(?:m\b|metres?\b|meters?\b|mtrs?\b)", re.I)
_FROM_NUMBER = re.compile(r"\bfrom\s+(\d{1,3}(?:\.\d+)?)\b(?!\s*(?:in|%))", re.I)
_OTHER_SIDE = re.compile(
    r"\b(?:other|opposite)\s+(?:side|touch\s*line|wing|touch)\b|\b(?:left|right) instead\b",
    re.I)
_ANY_KICKER = re.compile(
    r"\b(?:another|other|different|average|any|a typical|typical)\s+kicker\b|\bfor everyone\b",
    re.I)
_FOLLOW_UP_START = re.compile(
    r"^\W*(?:and|what about|how about|what if|same|now|ok(?:ay)?|then|from|for|on|near|at|"
    r"closer|further|wider|what about from)\b", re.I)


@dataclass(frozen=True)
class KickChange:
    """What a kick message says about the spot and the kicker (``None``: not said).

    Attributes:
        distance_m: metres out, or a line name (``22``, ``halfway``, ``10m``, ``5m``).
        touchline_m: metres in from touch.
        in_front: the kick is in front of the posts.
        kicker: a kicker's name.
        other_side: "from the other side" (positions are mirrored, so the same spot).
        any_kicker: "for another kicker" without a name: the all-kicker average.
    """

    distance_m: str | None = None
    touchline_m: str | None = None
    in_front: bool = False
    kicker: str | None = None
    other_side: bool = False
    any_kicker: bool = False

    @property
    def empty(self) -> bool:
        """Whether the message says nothing about a kick."""
        return self == KickChange()


def kick_change(text: str, kicker: str | None = None) -> KickChange:
    """Read a kick message's spot and kicker from its words (the entity extractor's
    ``kicker`` given as ``kicker``): "35 metres out near the touchline", "on the 22",
    "and from in front of the posts?", "what about from 40 metres", "from the other
    side", "for another kicker".
    """
    touch = _TOUCH_M.search(text)
    rest = _TOUCH_M.sub(" ", text)
    touchline = touch.group(1) if touch else (
        f"{NEAR_TOUCH_M:g}" if _NEAR_TOUCH.search(rest) else None)
    distance = next((name for name, line in _LINES if line.search(rest)), None)
    if distance is None:
        out = _OUT_M.search(rest) or _FROM_NUMBER.search(rest)
        distance = out.group(1) if out else None
    return KickChange(
        distance_m=distance, touchline_m=touchline,
        in_front=touchline is None and bool(_IN_FRONT.search(rest)),
        kicker=kicker or None, other_side=bool(_OTHER_SIDE.search(text)),
        any_kicker=kicker is None and bool(_ANY_KICKER.search(text)))


def is_kick_follow_up(text: str, change: KickChange) -> bool:
    """Whether a kick message changes the last kick rather than asking a new question: it
    starts like a follow-up ("and ...", "what about ...", "from ...", "for ..."), or names
    no distance out."""
    return bool(_FOLLOW_UP_START.search(text)) or change.distance_m is None


def merged_spot(last: dict[str, Any] | None, change: KickChange) -> dict[str, Any]:
    """The kick to answer: ``last`` (``{"kicker", "distance_m", "touchline_m",
    "pitch_spot"}``, the last kick answered; ``None``: none) changed only where
    ``change`` says something."""
    spot: dict[str, Any] = {"kicker": None, "distance_m": None, "touchline_m": None,
                            "pitch_spot": []}
    spot.update({k: v for k, v in (last or {}).items() if k in spot})
    if change.distance_m is not None:
        spot["distance_m"] = change.distance_m
        spot["pitch_spot"] = [s for s in spot["pitch_spot"] if s == "in_front"]
    if change.touchline_m is not None:
        spot["touchline_m"] = change.touchline_m
        spot["pitch_spot"] = []
    elif change.in_front:
        spot["touchline_m"] = None
        spot["pitch_spot"] = ["in_front"]
    if change.kicker:
        spot["kicker"] = change.kicker
    elif change.any_kicker:
        spot["kicker"] = None
    return spot
