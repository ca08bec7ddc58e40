"""Untrusted user text → text that is safe to hand to Rasa.

Rasa parses any message starting with ``/`` as an intent with optional JSON entities
(``/intent{"slot": "value"}``, ``rasa/shared/core/training_data/story_reader/
yaml_story_reader.py::unpack_regex_message``), bypassing NLU.  On a public channel that lets
users restart conversations, trigger handoffs or set slots (replays R5 and R6).  Only the
payloads of our own quick-reply buttons are allowed: a bare ``/intent`` from
:data:`ALLOWED_SLASH_INTENTS`, never with entities.  Any other slash text becomes
``/nlu_fallback`` (the bot asks the user to rephrase); the original text travels in the
message metadata.  Very long messages are cut to :data:`MAX_MESSAGE_CHARS` (replay R4).

One step, :func:`sanitize_message`, makes both texts of a message: the one Rasa reads and
the one people see (``original_text``, ``display_text``), both through
:func:`bot.support.display.clean_text`: NUL and the other control characters except newline
and tab removed, lone UTF-16 surrogates (valid in JSON as ``"\ud800"``, but not encodable
as UTF-8, so spaCy, the lock store and the database would fail on them) replaced by U+FFFD,
and a length bound.  Every channel (REST, widget, Telegram, voice) calls it.  It also drops
the rehearsal marker (:data:`bot.dialogue.rehearsal.REHEARSAL_KEY`) from the metadata a
client sent: only a phone call's speculative turn, on a copy of the conversation, writes it.
"""

from __future__ import annotations

import re

from bot.dialogue.rehearsal import REHEARSAL_KEY
from bot.support.display import MAX_SHOWN_CHARS, clean_text

MAX_MESSAGE_CHARS = 2000
"""Longest user message passed to NLU (characters); longer ones are truncated."""

ALLOWED_SLASH_INTENTS = frozenset({"affirm", "deny", "greet", "thank", "goodbye"})
"""Intents a client may send as ``/intent`` (the payloads of the bot's own buttons)."""

MAX_ORIGINAL_CHARS = MAX_SHOWN_CHARS
"""Longest original text kept in the message metadata when the text was changed."""

MAX_DISPLAY_CHARS = 200
"""Longest ``display_text`` kept (a button title shown as the user's message)."""

FALLBACK_PAYLOAD = "/nlu_fallback"
_SLASH_INTENT = re.compile(r"/([A-Za-z_][A-Za-z0-9_]{0,63})")


def sanitize_text(text: object) -> tuple[str, bool]:
    """Make user text safe for Rasa.

    Args:
        text: whatever the client sent as the message (non-strings count as empty).

    Returns:
        ``(safe_text, changed)``: the text Rasa should parse, and whether it differs from
        the input (so the caller can keep the original in metadata).
    """
    original = text if isinstance(text, str) else ""
    safe = clean_text(original, MAX_MESSAGE_CHARS)
    stripped = safe.strip()
    if not stripped:
        safe = FALLBACK_PAYLOAD
    elif stripped.startswith("/"):
        match = _SLASH_INTENT.fullmatch(stripped)
        allowed = match is not None and match.group(1) in ALLOWED_SLASH_INTENTS
        safe = f"/{match.group(1)}" if allowed else FALLBACK_PAYLOAD
    return safe, safe != original


def sanitize_message(raw: object, metadata: dict | None = None, *, typed: object = None,
                     display: object = None) -> tuple[str, dict]:
    """:func:`sanitize_text` plus the metadata every channel sends with the message.

    Args:
        raw: what the client sent as the message text.
        metadata: the channel's metadata for the message (copied, not changed; a
            rehearsal marker in it is dropped).
        typed: what the user typed when ``raw`` was derived from it (Telegram's
            ``/start@Bot``); default ``raw``.
        display: what the user saw as their message (the widget's button title), if the
            client says.

    Returns:
        ``(safe_text, metadata)``; when what the user typed, cleaned, differs from the text
        Rasa reads, ``metadata["original_text"]`` holds it (cleaned, at most
        :data:`MAX_ORIGINAL_CHARS`); a ``display`` with something visible in it is kept,
        cleaned, as ``metadata["display_text"]`` (at most :data:`MAX_DISPLAY_CHARS`).
    """
    text, _ = sanitize_text(raw)
    metadata = dict(metadata or {})
    metadata.pop(REHEARSAL_KEY, None)
    source = typed if isinstance(typed, str) else raw
    shown = clean_text(source if isinstance(source, str) else "", MAX_ORIGINAL_CHARS)
    if shown != text:
        metadata["original_text"] = shown
    if isinstance(display, str) and clean_text(display, MAX_DISPLAY_CHARS).strip():
        metadata["display_text"] = clean_text(display, MAX_DISPLAY_CHARS)
    return text, metadata
