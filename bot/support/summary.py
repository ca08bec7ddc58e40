"""Conversation summaries for support tickets."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MAX_TURNS = 20
MAX_CHARS_PER_TURN = 300


def conversation_summary(events: Iterable[dict[str, Any]], max_turns: int = MAX_TURNS) -> str:
    """Transcript of the last ``max_turns`` user and bot messages of a Rasa tracker.

    Args:
        events: tracker events as dicts (``{"event": "user"|"bot", "text": ...}``).
        max_turns: how many messages to keep, newest last.

    Returns:
        Lines ``Customer: ...`` / ``Assistant: ...`` (each cut to 300 characters), or
        ``"(no messages)"``.
    """
    lines = []
    for event in events:
        kind, text = event.get("event"), event.get("text")
        if kind in ("user", "bot") and text:
            who = "Customer" if kind == "user" else "Assistant"
            flat = " ".join(str(text).split())[:MAX_CHARS_PER_TURN]
            lines.append(f"{who}: {flat}")
    return "\n".join(lines[-max_turns:]) or "(no messages)"
