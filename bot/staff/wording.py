"""What customers read of the proactive messages (the rest is in ``domain.yml``)."""

from __future__ import annotations

DEFAULT_OPENING = "You left some things in your cart."
"""The reminder's opening sentence while staff set none (staff console, reminder settings)."""


def reminder_opening(staff_text: str) -> str:
    """The opening sentence of a cart reminder: the staff's text, else :data:`DEFAULT_OPENING`.

    Args:
        staff_text: ``ReminderSettings.text`` (already stripped, at most 300 characters).
    """
    return staff_text or DEFAULT_OPENING
