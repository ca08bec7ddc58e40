"""Messages to speak on a live phone call from outside a turn: a small hub per process.

The agent inbox sends a reply into a phone caller's conversation through Rasa's events
API (``output_channel=voice``); Rasa hands it to the voice channel's output in whichever
Rasa process (Sanic worker, or server of the production profile) took the request.  The
call's Media Stream, though, is one WebSocket held by one process.  This hub connects the
two without the channels importing each other (like :mod:`bot.dialogue.turn_feed`):

* the voice channel registers a *speaker* (:meth:`CallMessages.speak_with`): it speaks a
  message on a call whose stream this process holds, and says whether it did;
* the socket.io channel, which owns the pub/sub connecting the Rasa processes
  (``connectors/pubsub.py``), registers a *forwarder* (:meth:`CallMessages.forward_with`):
  it hands a message to the other processes, which speak it through their own hub
  (:meth:`CallMessages.speak_here`), and says whether one of them did.

:meth:`CallMessages.deliver` speaks a message once: here when this process holds the call
(nothing is forwarded then), else in the one other process that holds it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallMessage:
    """What to say on the live call of a conversation.

    Attributes:
        conversation_id: the Rasa conversation of the call (``voice:<call SID>``).
        text: the words to speak (already reduced to speech, ``bot.speech.spoken``).
    """

    conversation_id: str
    text: str

    def as_dict(self) -> dict[str, str]:
        """The message as JSON-ready ``{"conversation_id", "text"}`` (to send it to other
        processes)."""
        return {"conversation_id": self.conversation_id, "text": self.text}

    @classmethod
    def from_dict(cls, data: object) -> CallMessage | None:
        """The message :meth:`as_dict` wrote, or ``None`` when ``data`` is not one."""
        if not isinstance(data, dict):
            return None
        conversation, text = data.get("conversation_id"), data.get("text")
        if not (isinstance(conversation, str) and isinstance(text, str)):
            return None
        return cls(conversation, text)


Speaker = Callable[[CallMessage], Awaitable[bool]]
"""Speaks a message on a call whose stream this process holds; ``False``: it holds none."""
Forwarder = Callable[[CallMessage], Awaitable[bool]]
"""Hands a message to the other processes; ``True`` once one of them spoke it."""


class CallMessages:
    """Speaks each delivered :class:`CallMessage` on its call, in this process or another."""

    def __init__(self) -> None:
        """A hub with no speaker and no forwarder (a message then goes nowhere)."""
        self._speakers: list[Speaker] = []
        self._forwarders: list[Forwarder] = []

    def speak_with(self, speaker: Speaker) -> None:
        """Let ``speaker`` speak messages on the calls this process holds."""
        self._speakers.append(speaker)

    def forward_with(self, forwarder: Forwarder) -> None:
        """Let ``forwarder`` hand the messages this process cannot speak to the others."""
        self._forwarders.append(forwarder)

    async def speak_here(self, message: CallMessage) -> bool:
        """Speak ``message`` if this process holds its call (the first speaker that does);
        never forwards.  A speaker's exception is logged and counts as not spoken.

        Returns:
            Whether it was spoken here.
        """
        return await _first_taker(self._speakers, message, "speak a message on")

    async def deliver(self, message: CallMessage) -> bool:
        """Speak ``message`` exactly once: here (:meth:`speak_here`) when this process holds
        the call, else through the first forwarder whose process holds it.  A forwarder's
        exception is logged and counts as not spoken.

        Returns:
            Whether some process spoke it (``False``: no process holds the call, e.g. the
            caller hung up).
        """
        if await self.speak_here(message):
            return True
        return await _first_taker(self._forwarders, message, "forward a message for")


async def _first_taker(takers: list[Speaker], message: CallMessage, doing: str) -> bool:
    """Hand ``message`` to each of ``takers`` in turn until one returns ``True``; an
    exception is logged ("could not <doing> call <id>") and counts as ``False``."""
    for taker in takers:
        try:
            if await taker(message):
                return True
        except Exception:
            logger.exception("could not %s call %s", doing, message.conversation_id)
    return False


PROCESS_CALLS = CallMessages()
"""The hub the channels of this process share unless they are given another."""
