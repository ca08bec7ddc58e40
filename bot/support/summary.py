"""Conversation summaries for support tickets."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from bot.privacy import redactor
from bot.support.display import displayed_text
from bot.support.wording import money

MAX_TURNS = 20
MAX_CHARS_PER_TURN = 300


def conversation_summary(events: Iterable[dict[str, Any]], max_turns: int = MAX_TURNS) -> str:
    """Transcript of the last ``max_turns`` user and bot messages of a Rasa tracker.

    A user message the channel changed before NLU (a slash command, an empty or very long
    message: :mod:`connectors.sanitize`) is shown as the customer wrote it, from its
    ``metadata["original_text"]``, not as the ``/nlu_fallback`` Rasa saw; control
    characters are never shown (:func:`bot.support.display.displayed_text`). Card numbers,
    security codes and IBANs (and e-mail addresses or phone numbers when the settings say
    so) are replaced by placeholders (:func:`bot.privacy.redactor`): the summary is stored
    in the ticket, and the events it reads are those of the current turn, not yet redacted.

    Args:
        events: tracker events as dicts (``{"event": "user"|"bot", "text": ...,
            "metadata": {...}}``).
        max_turns: how many messages to keep, newest last.

    Returns:
        Lines ``Customer: ...`` / ``Assistant: ...`` (each cut to 300 characters), or
        ``"(no messages)"``.
    """
    lines = []
    redact = redactor().text
    for event in events:
        kind, text = event.get("event"), event.get("text")
        if kind == "user":
            text = displayed_text(text, event.get("metadata"))
        if kind in ("user", "bot") and text:
            who = "Customer" if kind == "user" else "Assistant"
            flat = redact(" ".join(str(text).split()))[:MAX_CHARS_PER_TURN]
            lines.append(f"{who}: {flat}")
    return "\n".join(lines[-max_turns:]) or "(no messages)"


def double_charge_summary(amount: Decimal, order_number: str, summary: str) -> str:
    """A refund ticket's summary: the duplicate charge (``amount`` in dollars, twice, for
    order ``order_number``) above the conversation ``summary``."""
    return f"Duplicate charge: two payments of {money(amount)} for order {order_number}.\n{summary}"
