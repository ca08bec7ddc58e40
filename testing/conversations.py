"""The conversation suite (``tests/data/conversations/*.yml``): load its stories, drive
one over a channel, and judge each reply against what the customer needed.

One source drives both ``rasa test`` (the files are Rasa test stories) and the REST runs
of ``tests/e2e/test_conversations.py`` and ``bench/dialogue.py``: a story's ``metadata``
holds ``customer`` (a demo customer the channel verified; absent: a guest) and ``expect``,
one entry per user step: a regular expression the reply must match (case-insensitive), or
``{has: regex, lacks: regex, fallback: true}`` (``fallback``: the reply may also hold a
fallback text, e.g. the out-of-scope answer before the offer of a person).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rasa.shared.nlu.training_data.entities_parser import replace_entities

from bot.config import PROJECT_ROOT

SUITE = PROJECT_ROOT / "tests" / "data" / "conversations"
"""Folder of the suite's story files."""
DOMAIN = PROJECT_ROOT / "domain.yml"

Say = Callable[[str, str, "str | None"], list[dict[str, Any]]]
"""Sends one message: ``(sender, text, customer) -> the bot's messages``."""


@dataclass(frozen=True)
class Expectation:
    """What one reply must contain (``has``) and must not (``lacks``, optional)."""

    has: re.Pattern[str]
    lacks: re.Pattern[str] | None = None
    fallback: bool = False
    """A fallback text may be part of the reply (``fallback: true`` in the story)."""

    def met(self, reply: str) -> bool:
        """Whether the reply text (all the turn's messages, joined) meets it. A reply that
        also falls back ("Sorry, I'm not sure how to help…") meets it only when a fallback
        is what the expectation asks for (its ``has`` matches a fallback text) or allows."""
        if not self.fallback and any(t in reply for t in FALLBACK_TEXTS) and not any(
                self.has.search(t) for t in FALLBACK_TEXTS):
            return False
        return bool(self.has.search(reply)) and not (self.lacks and self.lacks.search(reply))


@dataclass(frozen=True)
class Conversation:
    """One story of the suite: its name, customer and ``(text, expectation)`` turns."""

    name: str
    customer: str | None
    turns: tuple[tuple[str, Expectation], ...]


def _expectation(entry: str | dict[str, str]) -> Expectation:
    if isinstance(entry, str):
        return Expectation(re.compile(entry, re.IGNORECASE))
    lacks = entry.get("lacks")
    return Expectation(re.compile(entry["has"], re.IGNORECASE),
                       re.compile(lacks, re.IGNORECASE) if lacks else None,
                       bool(entry.get("fallback")))


def load_file(path: Path) -> list[Conversation]:
    """The stories of one suite file, in file order. A user text's entity markup
    (``[TL-10003](order_id)``, recorded by :mod:`testing.story_recorder`) is removed: the
    plain text is what the customer sends.

    Raises:
        ValueError: a story whose ``expect`` list does not have one entry per user step,
            or a user text that YAML read as something else than text.
    """
    conversations = []
    for story in yaml.safe_load(path.read_text(encoding="utf-8"))["stories"]:
        meta = story.get("metadata") or {}
        texts = [step["user"] for step in story["steps"] if "user" in step]
        if not all(isinstance(text, str) for text in texts):
            raise ValueError(f"{path.name}: {story['story']!r}: quote every user text "
                             "(YAML reads a bare yes/no as a boolean)")
        texts = [replace_entities(text.strip()) for text in texts]
        expect = meta.get("expect") or []
        if len(expect) != len(texts):
            raise ValueError(f"{path.name}: {story['story']!r} has {len(texts)} user "
                             f"steps and {len(expect)} expectations")
        conversations.append(Conversation(
            story["story"], meta.get("customer"),
            tuple(zip(texts, map(_expectation, expect)))))
    return conversations


def load(folder: Path = SUITE) -> list[Conversation]:
    """Every story of the suite's files, in file and story order (:func:`load_file`)."""
    return [c for path in sorted(folder.glob("*.yml")) for c in load_file(path)]


def _responses(*names: str) -> tuple[str, ...]:
    domain = yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))["responses"]
    return tuple(v["text"] for name in names for v in domain[name])


FALLBACK_TEXTS = _responses("utter_rephrase", "utter_out_of_scope", "utter_default")
"""Replies that mean the bot did not understand (``domain.yml``)."""
HANDOFF_TEXTS = _responses("utter_offer_human")
"""The offer of a person (``domain.yml``)."""


@dataclass
class Outcome:
    """How one conversation went.

    Attributes:
        name: the story's name.
        replies: the bot's reply text per turn.
        met: per turn, whether the reply had what the customer needed.
        fell_back: per turn, whether it was answered with a fallback
            (:data:`FALLBACK_TEXTS`).
        handoffs: turns that offered a person (:data:`HANDOFF_TEXTS`).
    """

    name: str
    replies: list[str] = field(default_factory=list)
    met: list[bool] = field(default_factory=list)
    fell_back: list[bool] = field(default_factory=list)
    handoffs: int = 0

    @property
    def fallbacks(self) -> int:
        """Turns answered with a fallback."""
        return sum(self.fell_back)

    @property
    def success(self) -> bool:
        """Every reply had what the customer needed."""
        return all(self.met)

    @property
    def turns(self) -> int:
        """Customer turns taken (to success, when it succeeded)."""
        return len(self.met)


def reply_text(messages: Sequence[dict[str, Any]]) -> str:
    """A turn's messages as one text (texts, and button titles)."""
    parts = []
    for message in messages:
        parts.append(message.get("text") or "")
        parts += [b.get("title", "") for b in message.get("buttons") or []]
    return "\n".join(p for p in parts if p)


def run(say: Say, conversation: Conversation, sender: str) -> Outcome:
    """Drive ``conversation`` as ``sender`` through ``say`` and judge every reply."""
    outcome = Outcome(conversation.name)
    for text, expectation in conversation.turns:
        reply = reply_text(say(sender, text, conversation.customer))
        outcome.replies.append(reply)
        outcome.met.append(expectation.met(reply))
        outcome.fell_back.append(any(t in reply for t in FALLBACK_TEXTS))
        outcome.handoffs += any(t in reply for t in HANDOFF_TEXTS)
    return outcome
