"""Misunderstandings in a row: when to stop asking again and offer a person.

A misunderstanding is a turn the bot could not use: the NLU fell back (``nlu_fallback``),
the message was out of scope, or a form could not fill the slot it asked for from the
answer. Two in a row, of any kind, offer a person (issue #13, "repair").

The count lives in one slot, :data:`SLOT` (``{"turn": <user turn key>, "count": n}``),
written only by the actions that see a misunderstanding: a turn counts as "in a row" when
the previous user turn is the one the slot names, so turns that went well need not reset
anything, and two actions that see the same turn (a form and a fallback rule) count it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SLOT = "misunderstandings"
"""Slot holding the streak (declared in ``domain.yml``)."""

OFFER_AFTER = 2
"""Misunderstandings in a row after which a person is offered (issue #13)."""


def _turn_key(event: dict[str, Any]) -> str:
    """A user event's identity: Rasa's ``message_id``, else its timestamp."""
    return str(event.get("message_id") or event.get("timestamp") or "")


def user_turns(events: Sequence[dict[str, Any]]) -> list[str]:
    """Keys of the user turns in ``events`` (oldest first)."""
    return [_turn_key(e) for e in events if e.get("event") == "user"]


def count_misunderstanding(
    events: Sequence[dict[str, Any]], streak: object
) -> tuple[int, dict[str, Any]]:
    """Count the latest user turn as a misunderstanding.

    Args:
        events: the tracker's events (rasa-sdk dicts); the last ``user`` event is the turn
            that was not understood.
        streak: the :data:`SLOT` value (``None`` or ``{"turn": str, "count": int}``).

    Returns:
        ``(count, new_slot_value)``: ``count`` is 1 for a first misunderstanding, one more
        than before when the previous user turn was also one, and unchanged when this turn
        was already counted.
    """
    turns = user_turns(events)
    current = turns[-1] if turns else ""
    previous = turns[-2] if len(turns) > 1 else None
    before = streak if isinstance(streak, dict) else {}
    count = int(before.get("count") or 0)
    if before.get("turn") == current and count:
        return count, dict(before)
    count = count + 1 if previous is not None and before.get("turn") == previous else 1
    return count, {"turn": current, "count": count}
