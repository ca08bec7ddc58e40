"""Rugby-union pitch geometry for place kicks.

Coordinates (metres), as seen by the kicker facing the posts they kick at:

* ``x_m``: distance out from the try line of the posts being kicked at, ``0..100``
  (100 m between try lines, World Rugby Law 1);
* ``y_m``: distance from the left touchline, ``0..70`` (the field is up to 70 m wide,
  Law 1); the posts stand on the middle of the try line, at ``y = 35``.

Distance and angle are measured to the centre between the posts (5.6 m apart, Law 1),
as in the RWC 2019 logistic fit quoted in ``kick_success_calibration.json``
(``logistic_models[0].simple``: ``angle_deg = atan(lateral_offset / distance_from_tryline)``).
"""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np

PITCH_LENGTH_M = 100.0
"""Distance between the try lines (Law 1)."""
PITCH_WIDTH_M = 70.0
"""Maximum width of the field of play (Law 1)."""
POST_GAP_M = 5.6
"""Distance between the goal posts (Law 1)."""
CENTRE_Y_M = PITCH_WIDTH_M / 2
"""``y`` of the centre between the posts."""
MIN_KICK_X_M = 5.0
"""Nearest a place kick is taken to the try line: a penalty mark inside 5 m is moved out
to 5 m (Law 20); conversions are taken further out in practice."""
MAX_KICK_DISTANCE_M = 70.0
"""Longest plausible place kick; the longest in the calibration sources is 55 m
(data-ruck RWC 2023), records are in the low 60s."""

LINES_M = {"5m": 5.0, "22": 22.0, "10m": 40.0, "halfway": 50.0}
"""Named lines across the pitch, metres out from the try line (the 10-metre line is
10 m short of halfway on the kicked-at side)."""

DISTANCE_BANDS_M = (22.0, 35.0, 45.0)
"""Upper edges of the distance bands of :func:`field_zone` (last band is open)."""
ANGLE_BANDS_DEG = (15.0, 35.0)
"""Upper edges of the angle bands of :func:`field_zone` (last band is open)."""
_DISTANCE_NAMES = ("0-22m", "22-35m", "35-45m", "45m+")
_ANGLE_NAMES = ("central", "mid", "wide")
ZONES: tuple[str, ...] = tuple(f"{d}/{a}" for d in _DISTANCE_NAMES for a in _ANGLE_NAMES)
"""Every zone label :func:`field_zone` can return."""


def lateral_offset(y_m: float) -> float:
    """Metres between a point and the pitch's long axis (mirror image: left = right).

    Args:
        y_m: metres from the left touchline, ``0..70``.

    Returns:
        ``|y - 35|`` in metres, ``0..35``.
    """
    return abs(y_m - CENTRE_Y_M)


def mirror_y(y_m: float) -> float:
    """Mirror a position about the long axis onto the right half (``y >= 35``).

    Args:
        y_m: metres from the left touchline.

    Returns:
        ``35 + |y - 35|`` in metres, ``35..70``.
    """
    return CENTRE_Y_M + lateral_offset(y_m)


def distance_to_posts(x_m: float, y_m: float) -> float:
    """Straight-line distance from the kick spot to the centre between the posts.

    Args:
        x_m: metres out from the try line.
        y_m: metres from the left touchline.

    Returns:
        ``sqrt(x^2 + (y - 35)^2)`` in metres.
    """
    return math.hypot(x_m, y_m - CENTRE_Y_M)


def angle_to_posts(x_m: float, y_m: float) -> float:
    """Angle between the kick direction and the line through the posts perpendicular to
    the try line (0 = straight in front), as in the RWC 2019 fit.

    Args:
        x_m: metres out from the try line.
        y_m: metres from the left touchline.

    Returns:
        ``degrees(atan2(|y - 35|, x))``, ``0..90``; 90 on the try line off centre.
    """
    return math.degrees(math.atan2(lateral_offset(y_m), x_m))


def from_polar(distance_m: float, angle_deg: float) -> tuple[float, float]:
    """Kick spot for a distance and angle to the posts, on the right half (mirrored).

    Args:
        distance_m: metres to the centre between the posts.
        angle_deg: degrees off the centre line, ``0..90``.

    Returns:
        ``(x_m, y_m)`` with ``y_m >= 35``.
    """
    rad = math.radians(angle_deg)
    return distance_m * math.cos(rad), CENTRE_Y_M + distance_m * math.sin(rad)


def is_on_pitch(x_m: float, y_m: float) -> bool:
    """Whether a point lies in the field of play (try lines and touchlines included)."""
    return 0.0 <= x_m <= PITCH_LENGTH_M and 0.0 <= y_m <= PITCH_WIDTH_M


def conversion_spot(try_y_m: float, back_m: float) -> tuple[float, float]:
    """Where a conversion is taken: on the line through where the try was scored,
    perpendicular to the try line (Law 8).

    Args:
        try_y_m: metres from the left touchline where the ball was grounded.
        back_m: metres the kicker walks back from the try line.

    Returns:
        ``(x_m, y_m) = (back_m, try_y_m)``.

    Raises:
        ValueError: the spot would be off the pitch.
    """
    if not is_on_pitch(back_m, try_y_m):
        raise ValueError(f"conversion spot ({back_m}, {try_y_m}) is off the pitch")
    return back_m, try_y_m


def field_zone(distance_m: float, angle_deg: float) -> str:
    """Named field zone: a distance band crossed with an angle band.

    Args:
        distance_m: metres to the posts.
        angle_deg: degrees off the centre line.

    Returns:
        One of :data:`ZONES`, e.g. ``"22-35m/mid"``. Bands: :data:`DISTANCE_BANDS_M`,
        :data:`ANGLE_BANDS_DEG` (lower edge inclusive).
    """
    d = bisect_right(DISTANCE_BANDS_M, distance_m)
    a = bisect_right(ANGLE_BANDS_DEG, angle_deg)
    return f"{_DISTANCE_NAMES[d]}/{_ANGLE_NAMES[a]}"


def rwc2019_interaction_logit(
    distance_m: float | np.ndarray, angle_deg: float | np.ndarray
) -> float | np.ndarray:
    """Log-odds of success of the RWC 2019 fit with a distance x angle interaction.

    Source: ``kick_success_calibration.json`` ``logistic_models[0].interaction``:
    ``logit = 7.9685 - 0.1702 * d - 0.1154 * a + 0.0024 * d * a`` with ``d`` the distance
    to the base of the posts (m) and ``a`` the angle to the centre line (degrees). Not
    additive: each degree off centre costs ``0.1154 - 0.0024 * d`` logits, so angle
    matters most close in (0.09 at 10 m, 0.02 at 40 m, none at 48 m; the published
    coefficients make it slightly positive beyond, where few kicks are taken).

    Args:
        distance_m: metres to the centre between the posts.
        angle_deg: degrees off the centre line.

    Returns:
        Log-odds (unbounded), same shape as the inputs.
    """
    return 7.9685 - 0.1702 * distance_m - 0.1154 * angle_deg + 0.0024 * distance_m * angle_deg
