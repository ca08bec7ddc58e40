"""The agent inbox: the queue of conversations waiting for a person, and what an agent does
with one (claim, read, reply, hand back to the bot, close).

Page: ``GET /agent`` (plain JavaScript, ``bot/api/static/agent/``; its data routes below
need a signed-in agent, :mod:`bot.api.auth`).

* ``GET /agent/api/queue?filter=open|mine|unassigned|closed``: the queue (:mod:`bot.store.inbox`).
* ``GET /agent/api/stream``: server-sent events; ``queue`` ``{"tickets": [...], "online":
  [...]}`` at once and whenever the open queue or who is online changes (checked every
  :data:`POLL_S`).
* ``GET /agent/api/tickets/{id}``: the ticket, its whole transcript and what the bot knew.
* ``GET /agent/api/tickets/{id}/stream?after=<event id>``: server-sent events, ``lines``
  (new transcript lines, customer messages during the takeover included) and ``ticket``
  (its state changed).
* ``POST .../claim``: 200 when the agent holds it now, 409 when another agent does.
* ``POST .../assign`` ``{"agent_id": int | null}`` (admin): reassign.
* ``POST .../reply`` ``{"text"}``: the message is stored in the conversation as a bot event
  carrying the agent, then reaches the customer on their channel (:mod:`bot.api.rasa_link`,
  :mod:`connectors.agent_messages`); 409 unless the agent holds the ticket, 502 when the
  Rasa server does not store it (nothing was delivered), or stored it and the channel did
  not take it (the detail says which).
* ``POST .../transfer``: a phone call is put through to ``$TOUCHLINE_AGENT_PHONE``
  (Twilio call update with ``<Say>`` and ``<Dial>``, :mod:`bot.support.call_transfer`);
  the line said is stored in the conversation as the agent's message.  409 unless the
  agent holds the ticket of a phone call and the transfer is configured, 502 when Twilio
  refuses (the call may be over).
* ``POST .../typing`` ``{"typing": bool}``: the widget shows "<name> is typing".
* ``POST .../handback``: the bot answers again; the ticket stays open and assigned.
* ``POST .../close`` ``{"resolution"}``: closes it, the bot says it is back and asks for a
  1-5 rating (stored with the ticket when the customer answers).  The ticket is closed
  first, so a quick answer always finds it closed; when the Rasa server then cannot take
  the message the answer is 502 (the ticket stays closed and the bot answers the
  customer's next message).
* ``GET .../saved-replies``: the saved replies with ``{first_name}`` and ``{order_number}``
  filled from this conversation; ``POST /agent/api/saved-replies`` ``{"title", "body"}``
  adds one (422 when refused).

Each action is logged (``agent_actions``) with the agent's id.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import asdict
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, constr
from sqlalchemy.engine import Engine

from bot.api.auth import CurrentAdmin, CurrentAgent
from bot.api.rasa_link import (
    LINK,
    RasaUnavailable,
    StoredNotDelivered,
    agent_event,
    bot_event,
    slot_event,
)
from bot.config import PROJECT_ROOT, settings
from bot.dialogue.turn import ConversationId, Namespace
from bot.store import inbox
from bot.store.agents import online_agents, record_action
from bot.store.db import session_scope
from bot.support.call_transfer import Transfer, TransferFailed
from bot.support.saved_replies import (
    SavedReplyError,
    add_saved_reply,
    placeholders,
    saved_replies,
)
from bot.support.transcript import Line, read_lines, what_the_bot_knew
from bot.support.wording import BACK_AND_RATE, CALL_PUT_THROUGH, RATING_BUTTONS

logger = logging.getLogger(__name__)

router = APIRouter(tags=["agent inbox"])

STATIC = Path(__file__).resolve().parent.parent / "static" / "agent"
ASSETS = {"inbox.js": "text/javascript", "inbox.css": "text/css"}
"""Files of the inbox page under ``/agent/static/``."""
PAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
"""The page runs only its own script (no inline script): an injected tag could not run."""
POLL_S = 0.25
"""How often a stream looks for changes (seconds): new handoffs appear within a second."""
KEEPALIVE_S = 15.0
"""A comment line this often keeps proxies from closing an idle stream (seconds)."""
TAKEOVER_SLOT = "human_takeover"
"""The dialogue's slot of a takeover (``domain.yml``, ``bot/dialogue/takeover_policy.py``)."""

TicketId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="ticket number")]


class ReplyIn(BaseModel):
    """An agent's message to the customer."""

    text: constr(strip_whitespace=True, min_length=1, max_length=4000)  # type: ignore[valid-type]


class TypingIn(BaseModel):
    """Whether the agent is typing now."""

    typing: bool


class AssignIn(BaseModel):
    """The agent to give the ticket to (``null``: nobody)."""

    agent_id: int | None


class SavedReplyIn(BaseModel):
    """A saved reply to store."""

    title: constr(strip_whitespace=True, min_length=1, max_length=100)  # type: ignore[valid-type]
    body: constr(strip_whitespace=True, min_length=1, max_length=4000)  # type: ignore[valid-type]


class CloseIn(BaseModel):
    """What was done for the customer."""

    resolution: constr(strip_whitespace=True, min_length=1, max_length=4000)  # type: ignore[valid-type]


@cache
def _tracker(path: str) -> Engine:
    file = Path(path)
    return sa.create_engine(f"sqlite:///{file if file.is_absolute() else PROJECT_ROOT / file}",
                            future=True)


def transcript_lines(conversation_id: str, after: int = 0) -> list[Line]:
    """New lines of a conversation from the tracker store (``[]`` while it has none)."""
    try:
        return read_lines(_tracker(settings().tracker_db), conversation_id, after)
    except sa.exc.OperationalError:  # no events table yet: no conversation yet
        return []


def _item(item: inbox.QueueItem) -> dict[str, Any]:
    out = asdict(item)
    out["created_at"] = item.created_at.isoformat() + "Z"
    out["channel"] = _channel(item.conversation_id)
    return out


def _channel(conversation_id: str) -> str:
    prefix = conversation_id.partition(":")[0] if ":" in conversation_id else ""
    return {"telegram": "telegram", "voice": "phone"}.get(prefix, "web")


def _queue(which: str, agent_id: int) -> list[dict[str, Any]]:
    with session_scope() as session:
        return [_item(i) for i in inbox.queue(session, which, agent_id)]


def _online() -> list[dict[str, Any]]:
    with session_scope() as session:
        return [{"id": a.id, "name": a.name} for a in online_agents(session)]


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


@router.get("/agent", include_in_schema=False)
def page() -> FileResponse:
    """The inbox page (its data routes need a signed-in agent; the page asks to sign in)."""
    return FileResponse(STATIC / "inbox.html", media_type="text/html", headers=PAGE_HEADERS)


@router.get("/agent/static/{name}", include_in_schema=False)
def asset(name: str) -> FileResponse:
    """The page's script and style; 404 for anything else."""
    if name not in ASSETS:
        raise HTTPException(404, "not found")
    return FileResponse(STATIC / name, media_type=ASSETS[name], headers=PAGE_HEADERS)


@router.get("/agent/api/queue")
def queue(agent: CurrentAgent,
          filter: str = Query("open", pattern="^(open|mine|unassigned|closed)$")
          ) -> list[dict[str, Any]]:
    """The conversations of one filter (open ones longest wait first)."""
    return _queue(filter, agent.id)


@router.get("/agent/api/stream")
async def stream(request: Request, agent: CurrentAgent) -> StreamingResponse:
    """Server-sent ``queue`` events: the open queue and who is online, on every change."""
    async def events() -> AsyncIterator[str]:
        last: str | None = None
        quiet = 0.0
        while not await request.is_disconnected():
            snapshot = {"tickets": await asyncio.to_thread(_queue, "open", agent.id),
                        "online": await asyncio.to_thread(_online)}
            encoded = json.dumps(snapshot, default=str, sort_keys=True)
            if encoded != last:
                last, quiet = encoded, 0.0
                yield _sse("queue", snapshot)
            elif quiet >= KEEPALIVE_S:
                quiet = 0.0
                yield ": keep-alive\n\n"
            await asyncio.sleep(POLL_S)
            quiet += POLL_S
    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _ticket_view(ticket_id: int) -> dict[str, Any]:
    with session_scope() as session:
        item = inbox.queue_item(session, ticket_id)
        if item is None:
            raise HTTPException(404, f"no conversation ticket {ticket_id}")
        lines = transcript_lines(item.conversation_id)
        known = what_the_bot_knew(session, item.customer_id, lines)
    return {"ticket": _item(item), "lines": [asdict(line) for line in lines],
            "known": asdict(known)}


@router.get("/agent/api/tickets/{ticket_id}")
def ticket(ticket_id: TicketId, _agent: CurrentAgent) -> dict[str, Any]:
    """The ticket, its transcript and what the bot knew; 404 when unknown."""
    return _ticket_view(ticket_id)


@router.get("/agent/api/tickets/{ticket_id}/stream")
async def ticket_stream(ticket_id: TicketId, request: Request, _agent: CurrentAgent,
                        after: int = Query(0, ge=0, le=2**63 - 1)) -> StreamingResponse:
    """Server-sent ``lines`` (new transcript lines after event id ``after``) and ``ticket``
    (its state changed) events."""
    def item() -> inbox.QueueItem:
        with session_scope() as session:
            found = inbox.queue_item(session, ticket_id)
        if found is None:
            raise HTTPException(404, f"no conversation ticket {ticket_id}")
        return found

    first = await asyncio.to_thread(item)

    async def events() -> AsyncIterator[str]:
        cursor, state, quiet = after, None, 0.0
        while not await request.is_disconnected():
            current = _item(await asyncio.to_thread(item))
            if current != state:
                state, quiet = current, 0.0
                yield _sse("ticket", current)
            lines = await asyncio.to_thread(transcript_lines, first.conversation_id, cursor)
            if lines:
                cursor, quiet = lines[-1].id, 0.0
                yield _sse("lines", [asdict(line) for line in lines])
            elif quiet >= KEEPALIVE_S:
                quiet = 0.0
                yield ": keep-alive\n\n"
            await asyncio.sleep(POLL_S)
            quiet += POLL_S
    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.post("/agent/api/tickets/{ticket_id}/claim")
def claim(ticket_id: TicketId, agent: CurrentAgent) -> dict[str, Any]:
    """Take the conversation (atomic: of two agents at once, one wins).

    Raises:
        HTTPException: 409 another agent holds it, or it is closed or unknown.
    """
    with session_scope() as session:
        won = inbox.claim(session, ticket_id, agent.id)
        if won:
            record_action(session, agent.id, "claim", ticket_id)
    if not won:
        raise HTTPException(409, "another agent holds this conversation, or it is closed")
    logger.info("agent %d claimed ticket %d", agent.id, ticket_id)
    return {"ticket_id": ticket_id, "agent_id": agent.id}


@router.post("/agent/api/tickets/{ticket_id}/assign")
def assign(ticket_id: TicketId, body: AssignIn, admin: CurrentAdmin) -> dict[str, Any]:
    """Give an open conversation to another agent (admins).

    Raises:
        HTTPException: 404 unknown or closed ticket, or unknown agent.
    """
    with session_scope() as session:
        done = inbox.reassign(session, ticket_id, body.agent_id)
        if done:
            record_action(session, admin.id, "assign", ticket_id, f"to {body.agent_id}")
    if not done:
        raise HTTPException(404, "no such open ticket or agent")
    return {"ticket_id": ticket_id, "agent_id": body.agent_id}


def _held(ticket_id: int, agent_id: int, retake: bool = False) -> str:
    """The conversation of a ticket the agent holds (``retake``: silence the bot again
    after a hand-back).

    Raises:
        HTTPException: 409 the agent does not hold the open ticket.
    """
    with session_scope() as session:
        held = inbox.holds(session, ticket_id, agent_id)
        if held is None:
            raise HTTPException(409, "claim this conversation first")
        if retake and not held.takeover:
            inbox.retake(session, held)
        return str(held.sender_id)


async def _send(conversation_id: str, events: list[dict[str, Any]]) -> None:
    try:
        await LINK.send_events(conversation_id, events)
    except StoredNotDelivered:
        logger.error("stored in %s, not delivered on its channel", conversation_id)
        raise HTTPException(502, "the message is stored in the conversation but its channel "
                                 "did not take it now; the customer sees it when they "
                                 "reopen the chat") from None
    except RasaUnavailable as exc:
        logger.error("could not send into %s: %s", conversation_id, exc)
        raise HTTPException(502, "the message could not be delivered; try again") from None


@router.post("/agent/api/tickets/{ticket_id}/reply")
async def reply(ticket_id: TicketId, body: ReplyIn, agent: CurrentAgent) -> dict[str, Any]:
    """Send the agent's message to the customer (see the module docstring)."""
    conversation = await asyncio.to_thread(_held, ticket_id, agent.id, True)
    await _send(conversation, [agent_event(body.text, agent.id, agent.name),
                               slot_event(TAKEOVER_SLOT, True)])
    # No "stopped typing" call: the widget hides the agent's indicator on their message.
    await asyncio.to_thread(_log, agent.id, "reply", ticket_id, f"{len(body.text)} characters")
    return {"status": "sent"}


@router.post("/agent/api/tickets/{ticket_id}/transfer")
async def transfer(ticket_id: TicketId, agent: CurrentAgent) -> dict[str, Any]:
    """Put the phone call through to the agent number (see the module docstring)."""
    conversation = ConversationId.parse(await asyncio.to_thread(_held, ticket_id, agent.id))
    if conversation.namespace is not Namespace.PHONE_CALL:
        raise HTTPException(409, "only a phone call can be transferred")
    to = Transfer.configured(settings())
    if to is None:
        raise HTTPException(409, "set TOUCHLINE_AGENT_PHONE, TWILIO_ACCOUNT_SID and "
                                 "TWILIO_AUTH_TOKEN to transfer calls")
    try:
        await asyncio.to_thread(to.redirect, conversation.key, CALL_PUT_THROUGH)
    except TransferFailed as exc:
        logger.error("call %s not transferred: %s", conversation.key, exc)
        raise HTTPException(502, "the call could not be transferred (it may have ended)"
                            ) from None
    await asyncio.to_thread(_log, agent.id, "transfer", ticket_id, to.number)
    try:  # the call has left the stream: the line is stored, not spoken twice
        await LINK.send_events(str(conversation),
                               [agent_event(CALL_PUT_THROUGH, agent.id, agent.name)])
    except StoredNotDelivered:
        pass  # stored; Twilio says the line on the call
    except RasaUnavailable as exc:
        logger.error("transfer of ticket %d not stored in the conversation: %s", ticket_id,
                     exc)
    return {"status": "transferred", "to": to.number}


@router.post("/agent/api/tickets/{ticket_id}/typing")
async def typing(ticket_id: TicketId, body: TypingIn, agent: CurrentAgent) -> dict[str, bool]:
    """Show or hide "<agent> is typing" in the customer's widget."""
    conversation = await asyncio.to_thread(_held, ticket_id, agent.id)
    await LINK.typing(conversation, agent.name, body.typing)
    return {"typing": body.typing}


@router.post("/agent/api/tickets/{ticket_id}/handback")
async def handback(ticket_id: TicketId, agent: CurrentAgent) -> dict[str, Any]:
    """End the takeover without closing (see the module docstring)."""
    def hand() -> str | None:
        with session_scope() as session:
            ticket = inbox.hand_back(session, ticket_id, agent.id)
            if ticket is None:
                return None
            record_action(session, agent.id, "handback", ticket_id)
            return str(ticket.sender_id)

    conversation = await asyncio.to_thread(hand)
    if conversation is None:
        raise HTTPException(409, "claim this conversation first")
    await _send(conversation, [slot_event(TAKEOVER_SLOT, False)])
    return {"status": "with the bot"}


@router.post("/agent/api/tickets/{ticket_id}/close")
async def close(ticket_id: TicketId, body: CloseIn, agent: CurrentAgent) -> dict[str, Any]:
    """Close with a resolution note; the bot is back and asks for a rating."""
    def shut() -> str | None:
        with session_scope() as session:
            ticket = inbox.close(session, ticket_id, agent.id, body.resolution)
            if ticket is None:
                return None
            record_action(session, agent.id, "close", ticket_id)
            return str(ticket.sender_id)

    conversation = await asyncio.to_thread(shut)
    if conversation is None:
        raise HTTPException(409, "claim this conversation first")
    await _send(conversation, [bot_event(BACK_AND_RATE, RATING_BUTTONS)])
    return {"status": "closed"}


def _log(agent_id: int, action: str, ticket_id: int, detail: str) -> None:
    with session_scope() as session:
        record_action(session, agent_id, action, ticket_id, detail)


@router.get("/agent/api/tickets/{ticket_id}/saved-replies")
def ticket_saved_replies(ticket_id: TicketId, _agent: CurrentAgent) -> list[dict[str, Any]]:
    """The saved replies, filled for this conversation; 404 for an unknown ticket."""
    with session_scope() as session:
        item = inbox.queue_item(session, ticket_id)
        if item is None:
            raise HTTPException(404, f"no conversation ticket {ticket_id}")
        known = what_the_bot_knew(session, item.customer_id,
                                  transcript_lines(item.conversation_id))
        return saved_replies(session, placeholders(known))


@router.post("/agent/api/saved-replies", status_code=201)
def new_saved_reply(body: SavedReplyIn, agent: CurrentAgent) -> dict[str, Any]:
    """Store a saved reply (any agent).

    Raises:
        HTTPException: 422 title taken.
    """
    try:
        with session_scope() as session:
            reply = add_saved_reply(session, body.title, body.body, agent.id)
            record_action(session, agent.id, "saved_reply", detail=f"saved reply {reply.id}")
            return {"id": reply.id, "title": reply.title, "body": reply.body}
    except SavedReplyError as exc:
        raise HTTPException(422, str(exc)) from None
