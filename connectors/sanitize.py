"""Untrusted user text → text that is safe to hand to Rasa.

Rasa parses any message starting with ``/`` as an intent with optional JSON entities
(``/intent{"slot": "value"}``, ``rasa/shared/core/training_data/story_reader/
yaml_story_reader.py::unpack_regex_message``), bypassing NLU.  On a public channel that lets
users restart conversations, trigger handoffs or set slots (replays R5 and R6).  Only the
payloads of our own quick-reply buttons are allowed: a bare ``/intent`` from
:data:`ALLOWED_SLASH_INTENTS`, never with entities.  Any other slash text becomes
``/nlu_fallback`` (the bot asks the user to rephrase); the original text travels in the
message metadata.  Very long messages are cut to :data:`MAX_MESSAGE_CHARS` (replay R4), NUL
bytes removed, and lone UTF-16 surrogates (valid in JSON as ``"\ud800"``, but not encodable
as UTF-8, so spaCy, the lock store and the database would fail on them) replaced by U+FFFD.
"""

from __future__ import annotations

import re

MAX_MESSAGE_CHARS = 2000
"""Longest user message passed to NLU (characters); longer ones are truncated."""

ALLOWED_SLASH_INTENTS = frozenset({"affirm", "deny", "greet", "thank", "goodbye"})
"""Intents a client may send as ``/intent`` (the payloads of the bot's own buttons)."""

MAX_ORIGINAL_CHARS = 20000
"""Longest original text kept in the message metadata when the text was changed."""

FALLBACK_PAYLOAD = "/nlu_fallback"
_SLASH_INTENT = re.compile(r"/([A-Za-z_][A-Za-z0-9_]{0,63})")
_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogates(text: str) -> bool:
    """Whether ``text`` holds a lone UTF-16 surrogate (not encodable as UTF-8)."""
    return _SURROGATE.search(text) is not None


def sanitize_text(text: object) -> tuple[str, bool]:
    """Make user text safe for Rasa.

    Args:
        text: whatever the client sent as the message (non-strings count as empty).

    Returns:
        ``(safe_text, changed)``: the text Rasa should parse, and whether it differs from
        the input (so the caller can keep the original in metadata).
    """
    original = text if isinstance(text, str) else ""
    safe = _SURROGATE.sub("\ufffd", original.replace("\x00", "")[:MAX_MESSAGE_CHARS])
    stripped = safe.strip()
    if not stripped:
        safe = FALLBACK_PAYLOAD
    elif stripped.startswith("/"):
        match = _SLASH_INTENT.fullmatch(stripped)
        allowed = match is not None and match.group(1) in ALLOWED_SLASH_INTENTS
        safe = f"/{match.group(1)}" if allowed else FALLBACK_PAYLOAD
    return safe, safe != original


def sanitize_message(raw: object, metadata: dict | None = None) -> tuple[str, dict]:
    """:func:`sanitize_text` plus the metadata every channel sends with the message.

    Args:
        raw: what the client sent as the message text.
        metadata: the channel's metadata for the message (copied, not changed).

    Returns:
        ``(safe_text, metadata)``; when the text was changed, ``metadata["original_text"]``
        holds what the user sent (cut to :data:`MAX_ORIGINAL_CHARS`).
    """
    text, changed = sanitize_text(raw)
    metadata = dict(metadata or {})
    if changed:
        original = str(raw if raw is not None else "")[:MAX_ORIGINAL_CHARS]
        metadata["original_text"] = _SURROGATE.sub("\ufffd", original)
    return text, metadata
