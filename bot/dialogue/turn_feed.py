"""Turns that one channel makes and others show: a small publish/subscribe hub per process.

A customer may speak in a widget tab (the microphone posts the recording to the voice
gateway, ``connectors/voice.py``) while the same session is open in other tabs
(``connectors/socketio.py``): the spoken turn is published here and every subscribed
channel shows it.  The channels do not know each other; both are handed the same
:class:`TurnFeed` (by default :data:`PROCESS_FEED`, the one of this Rasa server process).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.support.messages import BotMessage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SharedTurn:
    """A finished turn to show in a conversation's other open clients.

    Attributes:
        conversation_id: the Rasa conversation (a widget session id).
        transcript: what the user said.
        messages: the bot messages of the turn (Rasa's collector format).
        skip_client: the client (a socket.io ``sid``) that made the turn and shows it
            itself, ``None`` for none.
    """

    conversation_id: str
    transcript: str
    messages: list[BotMessage]
    skip_client: str | None = None


Listener = Callable[[SharedTurn], Awaitable[None]]
"""A subscriber: shows one shared turn (its errors are logged by :meth:`TurnFeed.publish`)."""


class TurnFeed:
    """Hands each published :class:`SharedTurn` to every subscriber, in subscription order."""

    def __init__(self) -> None:
        """An empty feed."""
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` for every turn published from now on."""
        self._listeners.append(listener)

    async def publish(self, turn: SharedTurn) -> None:
        """Show ``turn`` through every subscriber (none: nothing happens).

        A subscriber's exception is logged and does not stop the others: the turn has been
        answered to its own client whatever happens here.
        """
        for listener in self._listeners:
            try:
                await listener(turn)
            except Exception:
                logger.exception("could not show a shared turn of conversation %s",
                                 turn.conversation_id)


PROCESS_FEED = TurnFeed()
"""The feed the channels of this process share unless they are given another."""
