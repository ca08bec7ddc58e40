"""What a spoken reply says in place of what cannot be heard (:mod:`bot.speech.spoken`).
Where a customer's text lives: ``docs/architecture.md`` ("Customer wording")."""

from __future__ import annotations

from collections.abc import Sequence

LINK_WORDS = "the link in our chat"
"""Said in place of a URL."""


def choices(titles: Sequence[str]) -> str:
    """Buttons read as a choice: "You can say: Yes, or No."."""
    return "You can say: " + ", or ".join(titles) + "."
