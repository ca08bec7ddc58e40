"""What the kick chat says (``action_kick_prediction`` through :mod:`bot.kicks.chat`): the
odds in words, the question for the position, and the polite answers to values it cannot
use.  Where a customer's text lives: ``docs/architecture.md`` ("Customer wording")."""

from __future__ import annotations

from bot.kicks import geometry
from bot.kicks.predictor import Prediction

ASK_POSITION = (
    "Where is the kick from? Tell me how far out and how far in from the touchline, "
    'e.g. "40 metres out, 15 in from the right touchline" or "from the 22 in front of '
    'the posts".'
)
APOLOGY = "Sorry, I can't work out kick odds right now. Please try again in a moment."
SIMULATED_NOTE = "(based on simulated kick data)"

UNKNOWN_SPOT = 'Sorry, I don\'t know the spot "{value}" on a rugby pitch.'
NOT_METRES = 'Sorry, I couldn\'t read "{value}" as metres.'
NOT_A_NUMBER = 'Sorry, I couldn\'t read "{value}" as a number of metres.'
NOT_A_DISTANCE = 'Sorry, "{value}" isn\'t a distance I can use.'
"""Answers to a slot value that is not a spot or a distance (``{value}``: as given)."""

LINE_NAMES = {
    "22": "the 22",
    "10m": "the 10-metre line",
    "halfway": "halfway",
    "5m": "the 5-metre line",
}
"""How the answer names a kick from one of the pitch's lines."""


def out_of_range(x_m: float) -> str:
    """Answer to a kick ``x_m`` metres out, where no place kick is taken."""
    return (f"Sorry, a kick from {x_m:g} m out isn't possible: place kicks are taken between "
            f"{geometry.MIN_KICK_X_M:g} and {geometry.PITCH_LENGTH_M:g} metres out.")


def off_the_pitch(touch_m: float) -> str:
    """Answer to a kick ``touch_m`` metres in from touch, wider than the pitch."""
    return (f"Sorry, the pitch is only {geometry.PITCH_WIDTH_M:g} m wide, so {touch_m:g} m in "
            "from the touchline is off it.")


def spot_words(line: str | None, x_m: float, touch_m: float | None) -> str:
    """The kick spot as the answer names it ("the 22, 15 m in from touch", "40 m out in
    front of the posts").

    Args:
        line: a key of :data:`LINE_NAMES` when the customer named a line, else ``None``.
        x_m: metres out from the try line.
        touch_m: metres in from touch, ``None`` for a kick in front of the posts.
    """
    where = LINE_NAMES.get(line or "", f"{x_m:g} m out")
    if touch_m is not None:
        return f"{where}, {touch_m:g} m in from touch"
    return f"{where} in front of the posts"


def _percent(p: float) -> str:
    return f"{round(100 * p)}%"


def kick_odds(result: Prediction, spot: str, asked: str | None, assumed_in_front: bool) -> str:
    """The answer with the odds.

    Args:
        result: the model's prediction for the spot.
        spot: the spot in words (:func:`spot_words`).
        asked: the kicker the customer named (``None``: none); when the model does not
            know them, the answer says so and gives the all-kicker average.
        assumed_in_front: the customer gave no position across the pitch.
    """
    geometry_text = f"{result.distance_m:.0f} m from the posts, {result.angle_deg:.0f}° off centre"
    where = f"from {spot} ({geometry_text})"
    note = SIMULATED_NOTE if result.simulated else ""
    average = f"The average kicker {where}: {_percent(result.average_probability)}"
    if result.kicker_name:
        text = (
            f"{result.kicker_name}'s chance {where} is {_percent(result.probability)}. "
            f"{average.replace(' ' + where, ' from there')}."
        )
    elif asked:
        text = (
            f'I don\'t know a kicker called "{asked}", so here is the all-kicker average. '
            f"{average}."
        )
    else:
        text = f"{average}."
    if assumed_in_front:
        text += " I assumed the kick is in front of the posts."
    return f"{text} {note}".strip()


OTHER_SIDE = "The odds are the same from the other side: the pitch is symmetrical."
"""Said before the odds of "from the other side" (spots are mirrored across the posts)."""
