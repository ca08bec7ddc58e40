"""Text people see: what a customer typed, minus what must not be shown.

Shared by the channels' sanitiser (``connectors/sanitize.py``, when a message arrives) and
by everything that shows stored messages again (ticket summaries, the widget's history and
its other tabs), so a message stored before a rule existed is cleaned on the way out too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MAX_SHOWN_CHARS = 20000
"""Longest customer text kept or shown (characters)."""

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""C0 and C1 control characters (Unicode category Cc) except tab and newline."""
_SURROGATE = re.compile("[\ud800-\udfff]")
_CARRIAGE_RETURN = re.compile("\r\n?")


def has_surrogates(text: str) -> bool:
    """Whether ``text`` holds a lone UTF-16 surrogate (not encodable as UTF-8)."""
    return _SURROGATE.search(text) is not None


def clean_text(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    """``text`` safe to store, show and parse.

    Line breaks become ``\\n`` (``\\r\\n`` and a lone ``\\r`` included); NUL and every other
    control character except tab and newline are removed; lone UTF-16 surrogates (valid in
    JSON as ``"\\ud800"``, but not encodable as UTF-8) become U+FFFD; the result is cut to
    ``limit`` characters.

    Args:
        text: any string.
        limit: maximum length of the result (characters).

    Returns:
        The cleaned text (possibly empty).
    """
    text = _CARRIAGE_RETURN.sub("\n", text[: limit * 2])
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))[:limit]


def displayed_text(text: object, metadata: Mapping[str, Any] | None) -> str:
    """What to show for a user message: the text the customer saw or typed, cleaned.

    Args:
        text: the text Rasa read (e.g. ``/nlu_fallback`` for a refused slash command).
        metadata: the message's metadata; ``display_text`` (a button title) wins over
            ``original_text`` (the text as typed, when it differs from what Rasa read).

    Returns:
        The first of ``display_text``, ``original_text`` and ``text`` with something
        visible left after :func:`clean_text`; ``text`` cleaned when none has.
    """
    metadata = metadata or {}
    for candidate in (metadata.get("display_text"), metadata.get("original_text")):
        if isinstance(candidate, str) and clean_text(candidate).strip():
            return clean_text(candidate)
    return clean_text(text if isinstance(text, str) else "")
