"""Messages from the agent inbox into a conversation: stored with one INSERT, then delivered.

``POST /webhooks/agent_messages/send`` (``Authorization: Bearer $RASA_AUTH_TOKEN``) with
``{"conversation_id": str, "output_channel": str, "events": [...]}``, where each event is a
Rasa ``bot`` event (an agent's message carries ``metadata.touchline_agent``) or ``slot``
event.  The Touchline API sends every inbox write through it (:mod:`bot.api.rasa_link`).

Why not Rasa's ``POST /conversations/<id>/tracker/events``, which the inbox used before:
for every message that route validates the request against Rasa's whole events JSON
schema (``jsonschema.validate`` checks the schema itself each time: about three quarters
of the route's time on the event loop in ``bench/handoff.py``'s profile), reads the
conversation's tracker, applies the events, saves, and serialises the whole tracker into
its answer; twenty replies at once queued behind each other on each Rasa process.  Here:

1. **Stored first**, durably: under the conversation's lock (the lock store, across Rasa
   processes and servers), one INSERT of the events
   (:meth:`bot.dialogue.tracker_store.WindowedSQLTrackerStore.append_outside_turn`, which
   also hands them to the event broker as a turn's save does).  The lock is held for that
   INSERT only; it waits for a turn of the same conversation that is running, never for
   other conversations.
2. **Then delivered** on ``output_channel`` (the input channel of that name's output
   channel, as Rasa's ``output_channel`` query parameter: ``socketio``, ``telegram``,
   ``voice``; any other name delivers nothing, e.g. a REST conversation), outside the lock.

So a message is never delivered without being stored: when the INSERT fails the answer is
500 ``{"stored": false}`` and nothing went out; when the delivery fails after it the answer
is 502 ``{"stored": true, "delivered": false}`` (the customer sees the message with the
conversation's history, e.g. when the widget reconnects).  200 ``{"stored": true,
"delivered": true, "event_id": int}`` otherwise.  400 for a malformed body, 401 without the
token, 503 before the model is loaded.

A tracker store other than Touchline's SQL one (``rasa shell``'s in-memory store) gets the
events through Rasa's own retrieve, update and save, under the same lock.

Not done here, unlike Rasa's route: no session start (a conversation whose Rasa session
has expired gets the message in that session; the customer's next message starts the new
one and carries the slots over, ``domain.yml`` ``session_config``), no reminders.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.core.events import BotUttered, Event, SlotSet
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.config import settings
from bot.dialogue.tracker_store import WindowedSQLTrackerStore
from connectors.widget_history import sql_store

logger = logging.getLogger(__name__)

CHANNEL = "agent_messages"
"""Rasa name of this channel (its routes are under ``/webhooks/agent_messages/``)."""
EVENT_TYPES = {"bot": BotUttered, "slot": SlotSet}
"""The events this route stores: bot messages and slots, nothing that needs a turn."""
MAX_EVENTS = 10
"""Most events one request may carry."""


class Refused(ValueError):
    """A malformed request body (the message says what is wrong)."""


def parse_body(body: object) -> tuple[str, str, list[Event]]:
    """The conversation, output channel and events of a request body.

    Args:
        body: the decoded JSON body (see the module docstring).

    Returns:
        ``(conversation_id, output_channel, events)``.

    Raises:
        Refused: not an object, a missing or empty conversation id or channel, no events,
            more than :data:`MAX_EVENTS`, or an event that is not a valid ``bot`` or
            ``slot`` event.
    """
    if not isinstance(body, dict):
        raise Refused("a JSON object is needed")
    conversation, channel, raw = (body.get("conversation_id"), body.get("output_channel"),
                                  body.get("events"))
    if not (isinstance(conversation, str) and 0 < len(conversation) <= 255):
        raise Refused("conversation_id: a string of 1 to 255 characters")
    if not (isinstance(channel, str) and channel):
        raise Refused("output_channel: a channel name")
    if not (isinstance(raw, list) and 0 < len(raw) <= MAX_EVENTS):
        raise Refused(f"events: a list of 1 to {MAX_EVENTS} events")
    events: list[Event] = []
    for item in raw:
        kind = EVENT_TYPES.get(str(item.get("event"))) if isinstance(item, dict) else None
        if kind is None:
            raise Refused(f"events: only {', '.join(EVENT_TYPES)} events")
        try:
            event = Event.from_parameters(item)
        except Exception as exc:  # Rasa raises KeyError, TypeError, ValueError...
            raise Refused(f"events: not a valid {item['event']} event ({exc})") from None
        if not isinstance(event, kind) or not isinstance(
                event.text if isinstance(event, BotUttered) else event.key, str):
            raise Refused(f"events: not a valid {item['event']} event")
        events.append(event)
    return conversation, channel, events


async def store_events(agent: Any, conversation_id: str, events: list[Event]) -> int | None:  # noqa: ANN401
    """Store ``events`` in the conversation under its lock (see the module docstring).

    Args:
        agent: the Rasa server's ``Agent`` (its ``tracker_store`` and ``lock_store``).
        conversation_id: the conversation.
        events: parsed events (:func:`parse_body`).

    Returns:
        The id of the last stored event row (``None`` for a store without ids).

    Raises:
        Exception: the tracker store or the lock store failed; nothing was stored.
    """
    store = sql_store(agent.tracker_store)
    async with agent.lock_store.lock(conversation_id):
        if isinstance(store, WindowedSQLTrackerStore):
            return await store.append_outside_turn(conversation_id, events)
        tracker = await agent.tracker_store.get_or_create_tracker(conversation_id)
        for event in events:
            tracker.update(event)
        await agent.tracker_store.save(tracker)
        return None


async def deliver(output: OutputChannel | None, conversation_id: str,
                  events: list[Event]) -> None:
    """Send the bot messages among ``events`` on ``output`` (``None``: nowhere), in order,
    as Rasa's ``MessageProcessor.execute_side_effects`` does.

    Raises:
        Exception: whatever the output channel raised.
    """
    if output is None:
        return
    for event in events:
        if isinstance(event, BotUttered):
            await output.send_response(conversation_id, event.message())


async def store_then_deliver(agent: Any, output: OutputChannel | None,  # noqa: ANN401
                             conversation_id: str, events: list[Event]
                             ) -> tuple[int, dict[str, Any]]:
    """Store ``events`` (:func:`store_events`), then deliver them (:func:`deliver`).

    Args:
        agent: the Rasa server's ``Agent``.
        output: the customer's channel (``None``: deliver nowhere).
        conversation_id: the conversation.
        events: parsed events (:func:`parse_body`).

    Returns:
        The HTTP status and answer: ``500 {"stored": false}`` (nothing stored, nothing
        delivered), ``502 {"stored": true, "delivered": false, "event_id"}`` or
        ``200 {"stored": true, "delivered": true, "event_id"}``.
    """
    try:
        event_id = await store_events(agent, conversation_id, events)
    except Exception:
        logger.exception("agent message for %s not stored", conversation_id)
        return 500, {"stored": False}
    try:
        await deliver(output, conversation_id, events)
    except Exception:
        logger.exception("agent message for %s stored, not delivered on %s",
                         conversation_id, output.name() if output is not None else None)
        return 502, {"stored": True, "delivered": False, "event_id": event_id}
    return 200, {"stored": True, "delivered": True, "event_id": event_id}


def output_channel(input_channels: list[InputChannel], name: str) -> OutputChannel | None:
    """The output channel of the input channel called ``name`` (``None``: none, or it has
    none), as Rasa's HTTP API picks one for its ``output_channel`` parameter."""
    for channel in input_channels:
        if channel.name() == name:
            return channel.get_output_channel()
    return None


class AgentMessagesInput(InputChannel):
    """The channel that takes the agent inbox's messages (``credentials.yml``:
    ``connectors.agent_messages.AgentMessagesInput:`` with no keys)."""

    @classmethod
    def name(cls) -> str:
        """Rasa's name of the channel: ``agent_messages``."""
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> AgentMessagesInput:  # noqa: ARG003
        """The channel (it has no settings: the token is ``$RASA_AUTH_TOKEN``)."""
        return cls()

    async def send(self, request: Request) -> HTTPResponse:
        """Handle ``POST /webhooks/agent_messages/send`` (see the module docstring)."""
        token = settings().rasa_auth_token
        given = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        if not token or not hmac.compare_digest(given.encode(), token.encode()):
            return response.json({"error": "unauthorized"}, status=401)
        try:
            conversation, channel, events = parse_body(request.json)
        except Refused as exc:
            return response.json({"error": str(exc)}, status=400)
        except Exception:  # Sanic: the body is not JSON
            return response.json({"error": "a JSON body is needed"}, status=400)
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None or not agent.is_ready():
            return response.json({"error": "the model is not loaded yet"}, status=503)
        output = output_channel(getattr(request.app.ctx, "input_channels", None) or [],
                                channel)
        status, answer = await store_then_deliver(agent, output, conversation, events)
        return response.json(answer, status=status)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """``GET /webhooks/agent_messages/`` (health) and ``POST .../send``.

        Args:
            on_new_message: Rasa's turn handler (unused: no message here runs a turn).

        Returns:
            The channel's blueprint.
        """
        hook = Blueprint("touchline_agent_messages", __name__)

        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        async def send(request: Request) -> HTTPResponse:
            return await self.send(request)

        hook.add_route(health, "/", methods=["GET"])
        hook.add_route(send, "/send", methods=["POST"])
        return hook
