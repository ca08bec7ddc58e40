"""The voice channel's output: messages sent into a phone call's conversation from outside
a turn (the agent inbox's replies and closing words, over Rasa's
``POST /conversations/<id>/tracker/events?output_channel=voice``) are spoken on the call.

The call's Media Stream is a WebSocket held by one Rasa process (Sanic worker): a message
is spoken when the request reaches the process that holds the stream (always with one
worker, Rasa's default).  Otherwise, or once the caller has hung up, the message is stored
in the conversation only, and a warning says so.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.channels.channel import OutputChannel

from bot.speech.spoken import spoken_text
from connectors.voice_call import CHANNEL, LIVE_CALLS

logger = logging.getLogger(__name__)


class CallOutput(OutputChannel):
    """Speaks messages on the live call of their conversation (:data:`LIVE_CALLS`)."""

    @classmethod
    def name(cls) -> str:
        """Rasa's name of the channel: ``voice``."""
        return CHANNEL

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Speak ``message`` (Rasa's dict: ``text``, ``buttons`` read as a choice) on the
        call of conversation ``recipient_id`` (``voice:<call sid>``); log a warning when
        this process holds no live stream of it."""
        text = spoken_text([message])
        if not text:
            return
        call = LIVE_CALLS.get(recipient_id)
        if call is None:
            logger.warning("%s: no live call stream in this process; the message is stored "
                           "in the conversation, not spoken", recipient_id)
            return
        call.announce(text)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:  # noqa: ANN401
        """Speak ``text`` (see :meth:`send_response`)."""
        await self.send_response(recipient_id, {"text": text})
