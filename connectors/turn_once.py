"""A message that may be delivered more than once runs one turn: REST resends with a
``message_id``, and a Telegram update taken on again after the server holding it died.

The message's id is stored in its user event's metadata (``client_id``); before the turn
the conversation's tracker is searched for it, and when it is there the answer is the bot
messages stored after it, not a new turn.  The search and the turn hold the lock
``once:<sender>`` of the agent's lock store, so two copies on two servers at once also
run once.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from rasa.core.agent import Agent
from rasa.shared.core.events import BotUttered

from bot.dialogue.conversation_reads import replies_after
from bot.dialogue.turn import OnNewMessage, ensure_reply, run_turn
from bot.support.messages import BotMessage
from connectors.widget_history import CLIENT_ID, sql_store


class NotReady(RuntimeError):
    """The agent has no lock store or SQL tracker store yet (the server is starting)."""


def collected(sender: str, event: BotUttered) -> BotMessage:
    """A stored bot message in the format the turn returned it (Rasa's
    ``CollectingOutputChannel._message``: keys without a value are left out)."""
    data = event.data or {}
    message = {"recipient_id": sender, "text": event.text, "image": data.get("image"),
               "buttons": data.get("buttons"), "attachment": data.get("attachment"),
               "custom": data.get("custom")}
    return cast(BotMessage, {k: v for k, v in message.items() if v is not None})


async def run_turn_once(agent: Agent | None, on_new_message: OnNewMessage, text: str,
                        sender: str, channel: str, metadata: dict[str, Any],
                        message_id: str) -> list[BotMessage]:
    """Run the turn of the message ``message_id`` unless the conversation holds it already.

    Args:
        agent: the server's agent (``app.ctx.agent``), for its lock store and tracker store.
        on_new_message: the channel's Rasa handler.
        text, sender, channel, metadata: as for :func:`bot.dialogue.turn.run_turn`;
            ``metadata[CLIENT_ID]`` is set to ``message_id``.
        message_id: the message's id, unique within the conversation.

    Returns:
        The bot messages to send: the new turn's, or those that answered the stored copy
        (through :func:`bot.dialogue.turn.ensure_reply`).

    Raises:
        NotReady: the agent has no lock store or no SQL tracker store.
        Exception: whatever the lock store or the tracker store raised for the lock or the
            search (the turn did not run; the caller asks the customer to send again).
    """
    store = sql_store(agent.tracker_store if agent is not None else None)
    if agent is None or agent.lock_store is None or store is None:
        raise NotReady("the assistant is starting")
    metadata[CLIENT_ID] = message_id
    async with agent.lock_store.lock(f"once:{sender}"):
        answered = await asyncio.to_thread(replies_after, store, sender, CLIENT_ID, message_id)
        if answered is not None:  # stored already: its answer, not a new turn
            return await asyncio.to_thread(ensure_reply, sender,
                                           [collected(sender, e) for e in answered])
        return await run_turn(on_new_message, text, sender, channel, metadata)
