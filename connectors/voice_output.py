"""The voice channel's output: messages sent into a phone call's conversation from outside
a turn (the agent inbox's replies and closing words, over
``POST /webhooks/agent_messages/send`` with ``output_channel: voice``,
:mod:`connectors.agent_messages`, or Rasa's
``POST /conversations/<id>/tracker/events?output_channel=voice``) are spoken on the call.

The call's Media Stream is a WebSocket held by one Rasa process (a Sanic worker, or one of
the production profile's Rasa servers), and the request may reach another one.
:class:`CallOutput` delivers the message through the process's
:class:`bot.dialogue.call_messages.CallMessages` hub: the process that took the request
speaks it itself when it holds the stream (and forwards nothing); otherwise the socket.io
channel's pub/sub (``connectors/pubsub.py``: UNIX sockets between the workers of one host,
Redis with ``$REDIS_URL``) offers it to the other processes, and the one holding the
stream speaks it (:func:`speak_on_live_call`), so the caller hears it once.  When no
process holds the call (the caller hung up) the message is stored in the conversation
only, and the process that took the request logs one warning.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.channels.channel import OutputChannel

from bot.dialogue.call_messages import PROCESS_CALLS, CallMessage, CallMessages
from bot.speech.spoken import spoken_text
from connectors.voice_call import CHANNEL, LIVE_CALLS

logger = logging.getLogger(__name__)


async def speak_on_live_call(message: CallMessage) -> bool:
    """Speak ``message`` on its call when this process holds the call's stream
    (:data:`LIVE_CALLS`; :meth:`connectors.voice_call.TwilioCall.announce`, after whatever
    the bot is still saying).

    Returns:
        Whether this process holds the call (and so speaks the message).
    """
    call = LIVE_CALLS.get(message.conversation_id)
    if call is None:
        return False
    call.announce(message.text)
    logger.info("%s: agent message spoken on the call", message.conversation_id)
    return True


class CallOutput(OutputChannel):
    """Speaks messages on the live call of their conversation, in whichever Rasa process
    holds it (see the module docstring).

    Args:
        calls: the hub that speaks here or forwards (the voice and socket.io channels of
            this process register with the same one).
    """

    def __init__(self, calls: CallMessages = PROCESS_CALLS) -> None:
        self.calls = calls

    @classmethod
    def name(cls) -> str:
        """Rasa's name of the channel: ``voice``."""
        return CHANNEL

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Speak ``message`` (Rasa's dict: ``text``, ``buttons`` read as a choice) on the
        call of conversation ``recipient_id`` (``voice:<call sid>``), once, whichever
        process holds it; log a warning when none does."""
        text = spoken_text([message])
        if not text:
            return
        if not await self.calls.deliver(CallMessage(recipient_id, text)):
            logger.warning("%s: no live call stream in any Rasa process; the message is "
                           "stored in the conversation, not spoken", recipient_id)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:  # noqa: ANN401
        """Speak ``text`` (see :meth:`send_response`)."""
        await self.send_response(recipient_id, {"text": text})
