"""Bounds on the metadata a client may attach to a message.

Rasa copies and stores a message's metadata with the user event (``UserUttered``), so a
deeply nested or huge ``metadata`` object costs every step of the turn: deep nesting made
Rasa's recursive copies fail (the turn was lost and the recursion's traceback logged about
2,000 lines per request).  Channels that accept client metadata check it first with
:func:`metadata_problem`, without recursion (a 5,000-level object is measured as cheaply
as a flat one), and refuse it with a clear message.
"""

from __future__ import annotations

import re

CLIENT_ID_PATTERN = re.compile(r"[A-Za-z0-9-]{8,64}")
"""A message id a client may attach (the widget's ``id``, REST's ``message_id``; the widget
sends 32 hex digits): a message whose id the conversation already holds is not run again."""
MAX_METADATA_DEPTH = 8
"""Deepest nesting of objects and arrays accepted (the top-level object is depth 1)."""
MAX_METADATA_CHARS = 16_384
"""Largest accepted metadata, in characters of its JSON text (roughly: keys and strings
count their length, every value and container 8 more)."""


def metadata_problem(metadata: object) -> str | None:
    """Why ``metadata`` is refused, or ``None`` when it is acceptable.

    Args:
        metadata: the parsed JSON value a client sent as ``metadata`` (``None`` = absent).

    Returns:
        ``None``, or a sentence for the client naming the limit (for a 400 response).
    """
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        return "'metadata' must be a JSON object"
    size = 0
    pending: list[tuple[object, int]] = [(metadata, 1)]
    while pending:
        value, depth = pending.pop()
        size += 8
        if isinstance(value, (dict, list)):
            if depth > MAX_METADATA_DEPTH:
                return f"'metadata' is nested deeper than {MAX_METADATA_DEPTH} levels"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                size += len(key) if isinstance(key, str) else 0
                pending.append((item, depth + 1))
        elif isinstance(value, str):
            size += len(value)
        if size > MAX_METADATA_CHARS:
            return f"'metadata' is larger than {MAX_METADATA_CHARS} characters"
    return None
