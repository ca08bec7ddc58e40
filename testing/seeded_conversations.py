"""Seeded conversations written through Rasa's SQL tracker store (real Rasa events) and
takeover tickets in the shop database, for the staff analytics tests and pages."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Coroutine
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

from bot.config import PROJECT_ROOT
from bot.dialogue.tracker_store import WindowedSQLTrackerStore
from bot.store.db import session_scope
from bot.store.tickets import open_ticket
from bot.support.messages import AGENT_KEY

INTENTS = ["greet", "order_status", "product_search", "nlu_fallback", "out_of_scope",
           "cart_issue", "human_handoff", "thank"]
CHANNELS = ["socketio", "telegram", "rest"]
UNANSWERED = {
    "gift": ["do you sell gift cards", "can I buy a gift card for my brother",
             "gift vouchers available?", "how much is a gift card",
             "I want a gift card for 50 euros", "where can I get a gift voucher"],
    "hours": ["what time does your shop open", "opening hours on sunday?",
              "when do you close today", "are you open on bank holidays",
              "what are your hours", "is the store open late on thursday"],
    "canada": ["do you ship to canada", "delivery to toronto possible?",
               "can you send my order to vancouver", "shipping to canada cost",
               "do you deliver to canada", "international shipping to canada"],
}
"""Texts of the messages that fall back or are out of scope: three topics no intent covers
(taken in turn, so each is used about three times)."""
GREETINGS = ["hello", "hi there", "hey", "good morning"]
DAY = 86400.0
AGENT = {AGENT_KEY: {"id": 3, "name": "Sam"}}
"""Metadata of an agent's message, as the inbox stores it."""


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine`` to completion in a thread of its own (the caller's thread may
    already run an event loop: Playwright's sync API does)."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coroutine)
        except BaseException as error:  # noqa: BLE001 (re-raised in the caller)
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


async def _fill(store: WindowedSQLTrackerStore, shop_url: str, start: float, days: int,
                conversations: int, seed: int) -> None:
    rng = random.Random(seed)
    pool = [t for texts in UNANSWERED.values() for t in texts]
    rng.shuffle(pool)
    missed = 0
    with session_scope(shop_url) as session:
        for n in range(conversations):
            sender, channel = f"conv-{n:02d}", rng.choice(CHANNELS)
            at = start + rng.uniform(0, days * DAY)
            tracker = await store.get_or_create_tracker(sender)
            handed = False
            for turn in range(rng.randint(1, 5)):
                at += rng.uniform(5, 120)
                intent = rng.choice(INTENTS)
                if intent in ("nlu_fallback", "out_of_scope"):
                    text, missed = pool[missed % len(pool)], missed + 1
                elif intent == "greet":
                    text = rng.choice(GREETINGS)
                else:
                    text = f"message {turn} about {intent}"
                tracker.update(UserUttered(
                    text, {"name": intent, "confidence": rng.random()},
                    input_channel=channel, timestamp=at))
                if intent == "greet" and rng.random() < 0.5:  # the policy fell back
                    tracker.update(ActionExecuted("action_default_fallback",
                                                  timestamp=at + 0.1))
                tracker.update(BotUttered("reply", timestamp=at + 0.2))
                if intent == "human_handoff" and not handed:
                    handed = True
                    ticket = open_ticket(session, sender, None,
                                         rng.choice(["handoff", "angry"]), "s",
                                         takeover=True).ticket
                    ticket.created_at = datetime.fromtimestamp(
                        at + 0.3, timezone.utc).replace(tzinfo=None)
                    ticket.rating = rng.choice([None, 1, 2, 4, 5, 5])
                    if rng.random() < 0.7:
                        at += rng.uniform(10, 600)
                        tracker.update(BotUttered("hi, Sam here", metadata=AGENT,
                                                  timestamp=at))
                        tracker.update(BotUttered("second", metadata=AGENT,
                                                  timestamp=at + 5))
            await store.save(tracker)
        session.flush()


def fill(tracker_db: Path, shop_url: str, start: float, days: int = 6,
         conversations: int = 60, seed: int = 7) -> None:
    """Write seeded conversations to the SQLite tracker store ``tracker_db``.

    Conversations start uniformly over ``days`` days from ``start`` (Unix seconds) on
    three channels; 1-5 turns of random intents and confidences; the fell-back and
    out-of-scope messages take texts of :data:`UNANSWERED` in turn, greetings
    :data:`GREETINGS`; a ``human_handoff`` opens a
    takeover ticket (with a rating, sometimes none) and 70% get two agent replies (bot
    events with the inbox's agent metadata); half the greetings end in the fallback action.
    """
    domain = Domain.load(PROJECT_ROOT / "domain.yml")
    store = WindowedSQLTrackerStore(domain, dialect="sqlite", db=str(tracker_db))
    _run(_fill(store, shop_url, start, days, conversations, seed))
    store.engine.dispose()


def add_message(tracker_db: Path, sender: str, text: str, intent: str, channel: str,
                at: float) -> None:
    """Store one more user message (and a bot reply) in a conversation."""
    domain = Domain.load(PROJECT_ROOT / "domain.yml")
    store = WindowedSQLTrackerStore(domain, dialect="sqlite", db=str(tracker_db))

    async def write() -> None:
        tracker = await store.get_or_create_tracker(sender)
        tracker.update(UserUttered(text, {"name": intent, "confidence": 0.2},
                                   input_channel=channel, timestamp=at))
        tracker.update(BotUttered("reply", timestamp=at + 0.2))
        await store.save(tracker)

    _run(write())
    store.engine.dispose()
