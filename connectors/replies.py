"""What a channel sends when a turn produced no bot message.

Every Touchline flow answers each user message, so a silent turn means that a custom action
could not run: Rasa 3.6 logs the failure of an unreachable action server and drops the
action's events (``rasa/core/processor.py::_run_action``), leaving no half-set slots but also
no reply (replay R13).  The one intended silence is a human takeover, which the shop
database records; every other silent turn gets :data:`APOLOGY`.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.config import settings
from bot.store.db import session_scope
from bot.store.tickets import takeover_ticket
from bot.support.messages import BotMessage

logger = logging.getLogger(__name__)

_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _turn_slots() -> asyncio.Semaphore | None:
    """The running loop's turn semaphore (``None`` when the limit is off)."""
    size = settings().turn_slots
    if size <= 0:
        return None
    loop = asyncio.get_running_loop()
    if loop not in _slots:
        _slots[loop] = asyncio.Semaphore(size)
    return _slots[loop]

LOGGED_FRAMES = 12
"""Most stack frames logged per traceback of a failed turn (the outermost ones)."""
LOGGED_CHARS = 4000
"""Most characters logged for a failed turn's traceback."""

APOLOGY = (
    "Sorry, something went wrong on my side and I couldn't finish that. "
    "Please try again in a moment, or ask for a person."
)


def in_takeover(sender_id: str) -> bool:
    """Whether a human agent holds ``sender_id``'s conversation (an open takeover ticket).

    A database error counts as "no takeover", so the customer is told something failed.
    """
    try:
        with session_scope() as session:
            return takeover_ticket(session, sender_id) is not None
    except Exception:
        logger.exception("could not read the takeover flag of %s", sender_id)
        return False


def bounded_traceback(exc: BaseException) -> str:
    """``exc`` and where it was raised, bounded for the log.

    A recursion error in Rasa's copy of hostile metadata had a 2,000-line traceback (two
    alternating frames, which Python does not fold), and an exception's message may quote
    the payload: at most :data:`LOGGED_FRAMES` frames per traceback and
    :data:`LOGGED_CHARS` characters in all are kept.

    Returns:
        The formatted traceback, possibly cut (then ending with a note saying so).
    """
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__,
                                              limit=LOGGED_FRAMES))
    if len(text) > LOGGED_CHARS:
        text = text[:LOGGED_CHARS] + f"\n... ({len(text) - LOGGED_CHARS} more characters)"
    return text


def ensure_reply(sender_id: str, messages: list[BotMessage]) -> list[BotMessage]:
    """``messages``, or a one-message apology when the turn was silent by accident.

    Args:
        sender_id: the conversation id.
        messages: the bot messages the turn produced (Rasa's collector format).

    Returns:
        The messages to send to the user.
    """
    if messages or in_takeover(sender_id):
        return messages
    logger.warning("turn of %s produced no reply; apologising", sender_id)
    return [{"recipient_id": sender_id, "text": APOLOGY}]


async def run_turn(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    text: str,
    sender_id: str,
    input_channel: str,
    metadata: dict[str, Any],
    parse_data: dict[str, Any] | None = None,
) -> list[BotMessage]:
    """Hand one (already sanitised) user message to Rasa and collect the replies.

    ``parse_data``, when given, is the NLU result of ``text`` computed beforehand (a phone
    call's speculative turn): Rasa then skips NLU for this message.

    At most ``settings().turn_slots`` turns (``$TOUCHLINE_TURN_SLOTS``, 4) run at once per
    event loop; the others wait their turn.  A processing error is logged, never raised;
    the result goes through
    :func:`ensure_reply` (its database look-up runs off the event loop).

    Returns:
        The bot messages to send, in Rasa's collector format.
    """
    collector = CollectingOutputChannel()
    message = UserMessage(text, collector, sender_id, input_channel=input_channel,
                          metadata=metadata, parse_data=parse_data)
    slots = _turn_slots()
    try:
        if slots is None:
            await on_new_message(message)
        else:
            async with slots:
                await on_new_message(message)
    except Exception as exc:
        logger.error("message from %s could not be processed\n%s", sender_id,
                     bounded_traceback(exc))
    return await asyncio.to_thread(ensure_reply, sender_id, collector.messages)
