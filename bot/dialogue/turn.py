"""One turn of a conversation, the same for every channel (REST, widget, Telegram, voice).

A channel reads its client's message, sanitises it (``connectors/sanitize.py``), stamps
who the customer is, and hands it here; what happens next is this module's:

* :func:`run_turn` hands the message to Rasa, collects the bot messages, bounds how many
  turns run at once and how long one runs (:data:`TURN_TIMEOUT_S`; a stuck turn is
  cancelled, and the log says where it waited, :func:`await_chain`), logs a failure
  briefly, and makes sure the customer hears something
  (:data:`~bot.support.wording.APOLOGY` for a turn that was silent by accident);
* :func:`held_by_person` is the one takeover check: while a person holds the conversation
  (an open takeover ticket in the shop database) the bot's silence is intended, and a
  channel's own notices ("I can only read text") are not sent either;
* :class:`ConversationId` owns the namespaces of the channels' conversation ids
  (``telegram:<chat id>``, ``voice:<call SID>``, ``call:<call SID>``);
* :class:`KeyedLock` runs the turns of one conversation one at a time, in arrival order,
  inside a process (the Telegram channel; the lock store of the Rasa server,
  :class:`bot.dialogue.lock_store.AsyncioLockStore`, which the widget channel takes, adds
  the other processes).

A silent turn is a failure because every Touchline flow answers each user message: a
custom action that could not run leaves no reply (Rasa 3.6 logs the failure of an
unreachable action server and drops the action's events,
``rasa/core/processor.py::_run_action``, replay R13).  The one intended silence is a human
takeover.

Public API for the channels and for whatever else sends into conversations (the agent
inbox, ``bot/api/rasa_link.py``): :class:`ConversationId`, :class:`Namespace`,
:class:`KeyedLock`, :func:`held_by_person`, :func:`in_takeover`, :func:`run_turn`,
:func:`ensure_reply`.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.config import settings
from bot.store.db import session_scope
from bot.store.tickets import takeover_ticket
from bot.support.messages import BotMessage
from bot.support.wording import APOLOGY

logger = logging.getLogger(__name__)

LOGGED_FRAMES = 12
"""Most stack frames logged per traceback of a failed turn (the outermost ones)."""
LOGGED_CHARS = 4000
"""Most characters logged for a failed turn's traceback."""

TURN_TIMEOUT_S = 90.0
"""Longest a turn may run in Rasa before it is cancelled and the customer gets the apology
(seconds): more than Rasa's wait for a conversation's lock (60 s,
``bot.dialogue.redis_lock_store.MAX_WAIT_S``) plus a turn's own work; by then nginx has
answered the webhook's client with a 504 (60 s) and Rasa's own time-out for an action
call (300 s) is far off."""
UNWIND_S = 5.0
"""How long a cancelled turn may take to unwind (release its locks) before the apology."""

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
"""Rasa's handler of a user message (the ``on_new_message`` a channel's blueprint gets)."""


class TurnTimeout(RuntimeError):
    """A turn ran longer than :data:`TURN_TIMEOUT_S` and was cancelled."""


class Namespace(str, Enum):
    """The prefixes of the conversation ids that belong to one channel.

    A conversation id without a prefix is a web conversation (a REST ``sender``, a widget
    session id, a shop's identity-token ``sid``); no client may name a namespaced one.
    """

    TELEGRAM = "telegram"
    """``telegram:<chat id>``: a Telegram chat, private (positive id) or group (negative)."""
    PHONE_CALL = "voice"
    """``voice:<call SID>``: the conversation of one Twilio phone call."""
    CALL_STREAM = "call"
    """``call:<call SID>``: what a phone call's stream token signs (no Rasa conversation,
    reserved all the same)."""


@dataclass(frozen=True)
class ConversationId:
    """A Rasa conversation id (``sender_id``), split into its namespace and key.

    ``str(conversation)`` is the id Rasa stores; :meth:`parse` reads one back.

    Attributes:
        namespace: the channel the id belongs to, ``None`` for a web conversation.
        key: the rest (the whole id when there is no namespace).
    """

    namespace: Namespace | None
    key: str

    def __str__(self) -> str:
        """The id as Rasa knows it: ``<namespace>:<key>``, or the key alone."""
        return self.key if self.namespace is None else f"{self.namespace.value}:{self.key}"

    @classmethod
    def parse(cls, conversation_id: str) -> ConversationId:
        """Split ``conversation_id`` (exact, lower-case prefixes as :meth:`__str__` writes)."""
        prefix, colon, key = conversation_id.partition(":")
        for namespace in Namespace:
            if colon and prefix == namespace.value:
                return cls(namespace, key)
        return cls(None, conversation_id)

    @classmethod
    def telegram(cls, chat_id: int) -> ConversationId:
        """The conversation of Telegram chat ``chat_id`` (groups share one per chat)."""
        return cls(Namespace.TELEGRAM, str(chat_id))

    @classmethod
    def phone_call(cls, call_sid: str) -> ConversationId:
        """The conversation of the phone call ``call_sid`` (Twilio's call SID)."""
        return cls(Namespace.PHONE_CALL, call_sid)

    @classmethod
    def call_stream(cls, call_sid: str) -> ConversationId:
        """The subject a phone call's stream token signs."""
        return cls(Namespace.CALL_STREAM, call_sid)

    @property
    def chat_id(self) -> int:
        """The Telegram chat of a :meth:`telegram` conversation.

        Raises:
            ValueError: not ``telegram:<integer>``.
        """
        if self.namespace is not Namespace.TELEGRAM:
            raise ValueError(f"not a Telegram conversation id: {str(self)!r}")
        return int(self.key)

    @staticmethod
    def is_reserved(conversation_id: str) -> bool:
        """Whether ``conversation_id`` starts with a namespace in any letter case, so a
        client naming its own conversation (REST's ``sender``) may not use it."""
        return conversation_id.lower().startswith(tuple(f"{n.value}:" for n in Namespace))


class KeyedLock:
    """One :class:`asyncio.Lock` per key: holders of one key run one at a time, in the order
    they asked (asyncio's locks wake waiters first come, first served); a key's lock is
    dropped when nobody holds or awaits it, so idle conversations cost nothing."""

    def __init__(self) -> None:
        """No key in use."""
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # key -> (lock, users)

    def __len__(self) -> int:
        """How many keys are held or awaited now."""
        return len(self._locks)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold ``key``'s lock for the body of ``async with`` (released also when the body
        fails or is cancelled, or when waiting is cancelled)."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


def in_takeover(conversation_id: str) -> bool:
    """Whether a person holds the conversation (an open takeover ticket); blocking, for a
    worker thread (:func:`held_by_person` runs it in one).

    A database error counts as "no takeover", so the customer is told something failed.
    """
    try:
        with session_scope() as session:
            return takeover_ticket(session, conversation_id) is not None
    except Exception:
        logger.exception("could not read the takeover flag of %s", conversation_id)
        return False


async def held_by_person(conversation_id: str | ConversationId) -> bool:
    """:func:`in_takeover`, read in a worker thread (the one takeover check of the channels)."""
    return await asyncio.to_thread(in_takeover, str(conversation_id))


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


def await_chain(task: asyncio.Future[Any]) -> str:
    """Where a pending task waits: one line per coroutine it is awaiting through, outermost
    first (``file:line in function``), then what the innermost one awaits (a future, a
    lock's waiter), for the log of a stuck turn."""
    lines: list[str] = []
    awaited: Any = task.get_coro() if isinstance(task, asyncio.Task) else task
    while awaited is not None and len(lines) < 64:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:
            lines.append(repr(awaited)[:300])
            break
        lines.append(f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return "\n".join(lines)


async def _bounded(on_new_message: OnNewMessage, message: UserMessage) -> None:
    """``on_new_message(message)``, cancelled after :data:`TURN_TIMEOUT_S`.

    Raises:
        TurnTimeout: it ran too long (the message names where it waited).
        Exception: whatever ``on_new_message`` raised.
    """
    task = asyncio.ensure_future(on_new_message(message))
    try:
        done, _ = await asyncio.wait({task}, timeout=TURN_TIMEOUT_S)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        where = await_chain(task)
        task.cancel()
        await asyncio.wait({task}, timeout=UNWIND_S)
        raise TurnTimeout(f"still running after {TURN_TIMEOUT_S:.0f} s, cancelled; it was "
                          f"waiting at\n{where}")
    task.result()


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


def ensure_reply(conversation_id: str, messages: list[BotMessage]) -> list[BotMessage]:
    """``messages``, or a one-message apology when the turn was silent by accident.

    Blocking (a silent turn reads the takeover flag): call it in a worker thread.

    Args:
        conversation_id: the conversation id.
        messages: the bot messages the turn produced (Rasa's collector format).

    Returns:
        The messages to send to the user: ``messages`` when there are any, ``[]`` while a
        person holds the conversation, else ``[{"recipient_id", "text": APOLOGY}]``.
    """
    if messages or in_takeover(conversation_id):
        return messages
    logger.warning("turn of %s produced no reply; apologising", conversation_id)
    return [{"recipient_id": conversation_id, "text": APOLOGY}]


async def run_turn(
    on_new_message: OnNewMessage,
    text: str,
    conversation_id: str | ConversationId,
    input_channel: str,
    metadata: dict[str, Any],
    parse_data: dict[str, Any] | None = None,
) -> list[BotMessage]:
    """Hand one (already sanitised) user message to Rasa and collect the replies.

    ``parse_data``, when given, is the NLU result of ``text`` computed beforehand (a phone
    call's speculative turn): Rasa then skips NLU for this message.

    At most ``settings().turn_slots`` turns (``$TOUCHLINE_TURN_SLOTS``, 4) run at once per
    event loop; the others wait their turn.  One that runs longer than
    :data:`TURN_TIMEOUT_S` is cancelled (:class:`TurnTimeout`, logged with where it
    waited) and treated as failed.  A processing error is logged (bounded, see
    :func:`bounded_traceback`), never raised, and the replies Rasa produced before it are
    dropped (the turn may not be stored: the customer gets the apology and sends again);
    the result goes through :func:`ensure_reply` (its database read runs off the event
    loop).

    Args:
        on_new_message: the channel's Rasa handler.
        text: the message as Rasa should read it.
        conversation_id: the conversation.
        input_channel: the channel's name, recorded on the user event.
        metadata: the message's metadata (the verified customer, ``original_text``, ...).
        parse_data: Rasa's parse result of ``text``, or ``None`` to run NLU.

    Returns:
        The bot messages to send, in Rasa's collector format (``[]`` during a takeover).
    """
    sender = str(conversation_id)
    collector = CollectingOutputChannel()
    message = UserMessage(text, collector, sender, input_channel=input_channel,
                          metadata=metadata, parse_data=parse_data)
    slots = _turn_slots()
    try:
        if slots is None:
            await _bounded(on_new_message, message)
        else:
            async with slots:
                await _bounded(on_new_message, message)
    except Exception as exc:
        logger.error("message from %s could not be processed\n%s", sender,
                     bounded_traceback(exc))
        # What Rasa said before the failure is dropped: a turn whose save failed (a
        # PostgreSQL restart) is not stored, and answering it would tell the customer it
        # was (bench/cluster.py counted such turns as answered but missing).
        return await asyncio.to_thread(ensure_reply, sender, [])
    return await asyncio.to_thread(ensure_reply, sender, collector.messages)
