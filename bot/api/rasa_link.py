"""How the Touchline API (agent inbox) sends into a conversation held by the Rasa server.

Agents' messages go through Rasa's own HTTP API: ``POST /conversations/<id>/tracker/events
?output_channel=<channel>&execute_side_effects=true`` with ``bot`` events.  Rasa appends
them to the tracker under the conversation's lock (so transcripts, analytics and the
bot's later turns see them) and hands each to the channel's output channel, which
delivers it: the widget's ``RoomOutputChannel`` emits to every tab of the session (across
Rasa workers), Telegram's ``TelegramOutput`` calls ``sendMessage``.  Each agent message
carries ``metadata.touchline_agent`` ``{"id", "name"}``.

The agent's typing indicator goes to the widget channel's
``POST /webhooks/socketio/agent_typing`` (same token).  Both need ``$RASA_AUTH_TOKEN``
(the Rasa server's ``--auth-token``) and reach Rasa at :meth:`bot.config.Settings.rasa_base_url`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Any
from urllib.parse import quote

import httpx

from bot.config import settings
from bot.dialogue.turn import ConversationId, Namespace
from bot.support.messages import AGENT_KEY

logger = logging.getLogger(__name__)

TIMEOUT_S = 10.0
"""How long a call to the Rasa server may take before the agent is told it failed."""
WIDGET, TELEGRAM, PHONE = "socketio", "telegram", "voice"
"""Rasa names of the channels an agent's message can go out on."""


class RasaUnavailable(RuntimeError):
    """The Rasa server did not take the events (down, wrong token, error)."""


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
        """Append ``events`` to the conversation and deliver its bot messages on the
        customer's channel (:func:`output_channel`).

        Raises:
            RasaUnavailable: no token configured, Rasa unreachable or not 200.
        """
        token = settings().rasa_auth_token
        if not token:
            raise RasaUnavailable("set RASA_AUTH_TOKEN (the Rasa server's --auth-token)")
        # ':' stays as it is (Rasa's route reads the path undecoded): telegram:<chat>
        url = f"/conversations/{quote(conversation_id, safe=':')}/tracker/events"
        params = {"output_channel": output_channel(conversation_id),
                  "execute_side_effects": "true", "token": token}
        try:
            reply = await self._http().post(url, params=params, json=events)
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"Rasa server unreachable: {type(exc).__name__}") from None
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


LINK = RasaLink()
"""This process's link to the Rasa server."""
