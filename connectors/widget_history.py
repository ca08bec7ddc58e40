"""The widget's view of a conversation's history, a page of turns at a time.

A resumed widget session gets the latest :func:`history_turns` turns (a user message and
the bot's answers); the widget asks for older pages with the cursor it was given.  The
events are read from the SQL tracker store in a worker thread
(:mod:`bot.dialogue.conversation_reads`), never on the event loop, so resuming a long
conversation does not hold up other customers' turns.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TypedDict

from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore, TrackerStore
from rasa.shared.core.events import BotUttered, UserUttered

from bot.config import settings
from bot.dialogue.conversation_reads import message_page
from bot.support.display import displayed_text
from bot.support.messages import AGENT_KEY, BotMessage

logger = logging.getLogger(__name__)

VOICE_CHANNEL = "voice"
"""Input channel of spoken turns (``connectors.voice``); their history items are marked."""
CLIENT_ID = "client_id"
"""User event metadata key holding the widget's own id of the message."""


class HistoryPage(TypedDict):
    """A page of a conversation's history, as ``session_confirm`` and ``history_request``
    carry it (:func:`history_page`)."""

    history: list[dict[str, Any]]
    """``{"from": "user", "text", ...}`` and ``{"from": "bot", ...bot message}`` items."""
    more: bool
    """Whether older turns exist."""
    before: int | None
    """The cursor to ask for them."""


def history_turns() -> int:
    """Turns per history page (``$TOUCHLINE_WIDGET_HISTORY_TURNS``, :mod:`bot.config`)."""
    return settings().widget_history_turns


def sql_store(store: TrackerStore | None) -> SQLTrackerStore | None:
    """The SQL tracker store behind ``store`` (Rasa wraps the configured store in a
    ``FailSafeTrackerStore``, which keeps it as ``_tracker_store``), else ``None``."""
    if isinstance(store, FailSafeTrackerStore):
        store = getattr(store, "_tracker_store", None)
    return store if isinstance(store, SQLTrackerStore) else None


def public_message(message: BotMessage) -> BotMessage:
    """A collected bot message without its ``recipient_id`` (the widget knows its session)."""
    public = message.copy()
    public.pop("recipient_id", None)
    return public


async def bot_event_messages(event: BotUttered, session_id: str) -> list[dict[str, Any]]:
    """The widget messages of a stored bot event, split exactly as during the live turn.

    Replays the event through Rasa's :class:`CollectingOutputChannel`, which the live
    turn used as well (text paragraphs, buttons, then custom payload, image, attachment).
    """
    collector = CollectingOutputChannel()
    await collector.send_response(session_id, {"text": event.text, **(event.data or {})})
    name = agent_name((event.metadata or {}).get(AGENT_KEY))
    agent = {"agent": name} if name is not None else {}
    return [{"from": "bot", **public_message(m), **agent} for m in collector.messages]


def agent_name(agent: object) -> str | None:
    """The display name in a bot event's :data:`~bot.support.messages.AGENT_KEY` metadata
    (a message a person wrote in the agent inbox), ``None`` for the assistant's own."""
    name = agent.get("name") if isinstance(agent, dict) else None
    return name[:100] if isinstance(name, str) and name else None


def user_item(event: UserUttered) -> dict[str, Any]:
    """``{"from": "user", "text"}`` of a stored user event: the text the user saw (button
    title, unsanitised text, or the text), ``"spoken": True`` for a voice turn, and the
    widget's message ``"id"`` when it sent one."""
    metadata = event.metadata or {}
    item: dict[str, Any] = {"from": "user", "text": displayed_text(event.text, metadata)}
    if event.input_channel == VOICE_CHANNEL:
        item["spoken"] = True
    if isinstance(metadata.get(CLIENT_ID), str):
        item["id"] = metadata[CLIENT_ID]
    return item


async def history_page(store: TrackerStore, session_id: str,
                       before: int | None = None) -> HistoryPage:
    """One page of the conversation's messages from all its Rasa sessions, oldest first.

    Args:
        store: the Rasa server's tracker store (an SQL one; any other gives no history,
            with a warning).
        session_id: the conversation id.
        before: the cursor of an earlier page (``None``: the latest turns).

    Returns:
        ``{"history": [...], "more": bool, "before": int | None}``: at most
        :func:`history_turns` user messages (``{"from": "user", "text", ...}``) with the
        bot messages that follow them (``{"from": "bot", ...bot message}``); ``more`` says
        whether older turns exist and ``before`` is the cursor to ask for them.
    """
    sql = sql_store(store)
    if sql is None:
        logger.warning("widget history needs an SQL tracker store, not %s", type(store).__name__)
        return {"history": [], "more": False, "before": None}
    page = await asyncio.to_thread(message_page, sql, session_id, history_turns(), before)
    history: list[dict[str, Any]] = []
    for event in page.events:
        if isinstance(event, UserUttered):
            history.append(user_item(event))
        elif isinstance(event, BotUttered):
            history.extend(await bot_event_messages(event, session_id))
    return {"history": history, "more": page.before is not None, "before": page.before}
