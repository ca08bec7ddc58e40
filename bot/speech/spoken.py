"""Bot messages (Rasa's collector format) as one text to be spoken."""

from __future__ import annotations

import re

from bot.speech.wording import LINK_WORDS, choices
from bot.support.messages import BotMessage

_URL = re.compile(r"https?://\S+")
_MARKUP = re.compile(r"[*_`#>\[\]]")


def spoken_text(messages: list[BotMessage]) -> str:
    """The words a caller hears for ``messages``.

    Text is kept (links become "the link in our chat", Markdown marks are dropped); buttons
    are read as a choice ("You can say: Yes, or No."); custom payloads and images are
    skipped (every Touchline card repeats its content in the text).

    Args:
        messages: dicts with optional ``text`` and ``buttons`` (``title``/``payload``)
            keys, as Rasa's ``CollectingOutputChannel`` records them.

    Returns:
        One string of sentences; ``""`` when there is nothing to say.
    """
    parts: list[str] = []
    for message in messages:
        text = message.get("text")
        if text:
            parts.append(_sentence(_MARKUP.sub("", _URL.sub(LINK_WORDS, text))))
        titles = [str(b.get("title", "")).strip() for b in message.get("buttons") or []]
        titles = [t for t in titles if t]
        if titles:
            parts.append(choices(titles))
    return " ".join(p for p in parts if p)


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if not text or text[-1] in ".!?" else text + "."
