"""How the Touchline API (agent inbox) sends into a conversation held by the Rasa server.

Agents' messages (and the inbox's other writes: the takeover slot, the bot's words when a
ticket is closed) go to the Rasa server's ``POST /webhooks/agent_messages/send``
(:mod:`connectors.agent_messages`): the events are stored in the conversation first (one
INSERT under the conversation's lock, so transcripts, analytics and the bot's later turns
see them), then each bot message is handed to the customer's channel's output channel,
which delivers it: the widget's ``RoomOutputChannel`` emits to every tab of the session
(across Rasa workers), Telegram's ``TelegramOutput`` calls ``sendMessage``, the voice
channel speaks it on the live call.  Each agent message carries
``metadata.touchline_agent`` ``{"id", "name"}``.

The agent's typing indicator goes to the widget channel's
``POST /webhooks/socketio/agent_typing``.  Both need ``$RASA_AUTH_TOKEN`` (the Rasa server's
``--auth-token``, sent as ``Authorization: Bearer``) and reach Rasa at
:meth:`bot.config.Settings.rasa_base_url`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Any

import httpx

from bot.config import settings
from bot.dialogue.turn import ConversationId, Namespace
from bot.support.messages import AGENT_KEY

logger = logging.getLogger(__name__)

TIMEOUT_S = 10.0
"""How long a call to the Rasa server may take before the agent is told it failed."""
WIDGET, TELEGRAM, PHONE = "socketio", "telegram", "voice"
"""Rasa names of the channels an agent's message can go out on."""


AGENT_MESSAGES = "/webhooks/agent_messages/send"
"""The Rasa server's route that stores, then delivers (:mod:`connectors.agent_messages`)."""


class RasaUnavailable(RuntimeError):
    """The Rasa server did not take the events (down, wrong token, error): not stored, not
    delivered."""


class StoredNotDelivered(RasaUnavailable):
    """The events are stored in the conversation, but the customer's channel did not take
    the message (the widget shows it with the conversation's history)."""


def output_channel(conversation_id: str) -> str:
    """The channel a conversation's customer reads: Telegram for ``telegram:<chat>``, the
    phone for ``voice:<call>``, else the widget (web conversations, the widget's voice
    messages included; a REST client sees agent messages in the tracker only)."""
    namespace = ConversationId.parse(conversation_id).namespace
    if namespace is Namespace.TELEGRAM:
        return TELEGRAM
    if namespace is Namespace.PHONE_CALL:
        return PHONE
    return WIDGET


def agent_event(text: str, agent_id: int, agent_name: str) -> dict[str, Any]:
    """A Rasa ``bot`` event of an agent's message."""
    return {"event": "bot", "text": text, "timestamp": time.time(),
            "metadata": {AGENT_KEY: {"id": agent_id, "name": agent_name}}}


def bot_event(text: str, buttons: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """A Rasa ``bot`` event of the assistant's own (the bot is back, asks for a rating)."""
    return {"event": "bot", "text": text, "timestamp": time.time(),
            "data": {"buttons": buttons} if buttons else {}}


def slot_event(name: str, value: Any) -> dict[str, Any]:  # noqa: ANN401
    """A Rasa ``slot`` event."""
    return {"event": "slot", "name": name, "value": value, "timestamp": time.time()}


class RasaLink:
    """HTTP clients to the Rasa server, one per event loop (connections are kept alive)."""

    def __init__(self) -> None:
        """A link to :meth:`bot.config.Settings.rasa_base_url` (opened on first use)."""
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                                 httpx.AsyncClient] = weakref.WeakKeyDictionary()

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if loop not in self._clients:
            self._clients[loop] = httpx.AsyncClient(base_url=settings().rasa_base_url(),
                                                    timeout=TIMEOUT_S)
        return self._clients[loop]

    async def aclose(self) -> None:
        """Close this event loop's connections (the app shuts down)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    async def send_events(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        """Store ``events`` in the conversation, then deliver its bot messages on the
        customer's channel (:func:`output_channel`).

        Raises:
            StoredNotDelivered: stored, but the channel did not take a message (502).
            RasaUnavailable: nothing stored: no token configured, Rasa unreachable, or
                any other answer than 200.
        """
        token = settings().rasa_auth_token
        if not token:
            raise RasaUnavailable("set RASA_AUTH_TOKEN (the Rasa server's --auth-token)")
        body = {"conversation_id": conversation_id,
                "output_channel": output_channel(conversation_id), "events": events}
        try:
            reply = await self._http().post(
                AGENT_MESSAGES, json=body, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"Rasa server unreachable: {type(exc).__name__}") from None
        if reply.status_code == 502 and _stored(reply):
            raise StoredNotDelivered("stored in the conversation, not delivered")
        if reply.status_code != 200:
            raise RasaUnavailable(f"Rasa server answered {reply.status_code}")

    async def typing(self, conversation_id: str, agent_name: str, typing: bool) -> None:
        """Show or hide the agent's typing indicator in the widget's tabs (other channels:
        nothing).  Failures are logged only: a lost indicator loses no message."""
        token = settings().rasa_auth_token
        if output_channel(conversation_id) != WIDGET or not token:
            return
        try:
            await self._http().post(
                "/webhooks/socketio/agent_typing", headers={"Authorization": f"Bearer {token}"},
                json={"conversation_id": conversation_id, "name": agent_name,
                      "typing": typing})
        except httpx.HTTPError:
            logger.warning("agent typing indicator not delivered to %s", conversation_id)


def _stored(reply: httpx.Response) -> bool:
    """Whether an answer of the agent-messages route says the events are stored."""
    try:
        data = reply.json()
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("stored") is True


LINK = RasaLink()
"""This process's link to the Rasa server."""
