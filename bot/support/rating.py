"""The customer's answer to "how would you rate the help, from 1 to 5?" after an agent
closed the conversation (``bot/api/routes/agent_inbox.py``, ``actions/handoff.py``)."""

from __future__ import annotations

import re

_RATING = re.compile(
    r"\s*([1-5])(?:\s*(?:/\s*5|out of 5|stars?))?(?!\d|[.,]\d)[\s,.;:!)-]*(.*)",
    re.IGNORECASE | re.DOTALL)
"""A message that starts with a digit 1-5 (``4``, ``4/5``, ``5 stars - quick``),
optionally followed by a comment; not ``3.5`` or ``10``."""


def parse_rating(text: str) -> tuple[int, str] | None:
    """``(rating, comment)`` of a rating answer, ``None`` for any other message.

    Args:
        text: the customer's message.

    Returns:
        The rating 1-5 and the comment after it (``""`` for none).
    """
    match = _RATING.fullmatch(text or "")
    if match is None:
        return None
    return int(match.group(1)), match.group(2).strip()
