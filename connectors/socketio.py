"""Website widget channel: Rasa's socket.io channel with signed, persistent sessions.

Rasa 3.6.21's ``SocketIOInput`` (``rasa/core/channels/socketio.py``) calls
``sio.enter_room`` without ``await``, a coroutine in python-socketio 5, so sockets never
join their session's room; and it lets any client resume any session id it names.  This
subclass keeps Rasa's channel name ``socketio`` and socket path ``/socket.io`` and changes
the protocol as follows.

Client → server:

* ``session_request`` ``{"session_id": str, "token": str}`` (both optional).  A token the
  server issued for that id (:class:`~connectors.sessions.SessionSigner`) rejoins the
  session's room; anything else starts a fresh session.  The reply ``session_confirm`` goes to this
  socket only: ``{"session_id", "token", "resumed": bool, "history": [...], "more": bool,
  "before": cursor}``, where ``history`` lists the conversation's latest turns across
  Rasa sessions (:mod:`connectors.widget_history`: ``{"from": "user", "text"}``, plus
  ``"spoken": true`` for a message the widget's microphone sent through the voice
  gateway and the widget's ``"id"`` of the message, and ``{"from": "bot", ...bot
  message}``), at most ``$TOUCHLINE_WIDGET_HISTORY_TURNS`` turns, read in a worker thread.
* ``session_request`` with ``"identity": <JWT>``: a customer the shop signed in
  (:mod:`bot.identity.tokens`).  The token is verified, its ``jti`` is used up (a token
  presented on a second connection is refused), and the session is the token's
  ``sid``, whatever ``session_id`` the client names.  ``session_confirm`` then also has
  ``"customer": true``, ``"expires_at"`` (Unix seconds) and ``"resume"``, a token signed by
  this server (purpose ``widget-resume``, same customer, conversation and expiry) that
  rejoins after a reconnect (``session_request`` ``{"resume": ...}``).  A refused token
  gets ``identity_refused`` ``{"reason"}`` (``invalid``, ``expired``, ``replayed`` or
  ``revoked``) and the socket is disconnected.
* The sign-in ends when it expires without an ``identity_refresh``, or when the shop
  revokes the conversation's tokens (its logout, :func:`bot.store.identity.revoke_sign_in`).
  Every message re-checks both (:meth:`SocketIOInput._check_sign_in`), and a timer catches the
  expiry between messages.  The socket is then signed out: it leaves the customer's
  conversation, gets a ``session_confirm`` of a fresh anonymous session (``"resumed":
  false``) and ``identity_expired`` ``{"reason": "expired" | "revoked"}``, and the message
  that found it, like every later one, runs as an anonymous message of that session (the
  bot asks an anonymous visitor to sign in for anything of an account).
* ``identity_refresh`` ``{"identity": <JWT>}``: a fresh token of the same customer and
  conversation, not revoked (its ``jti`` is used up too); acknowledged with ``{"status": "ok",
  "resume", "expires_at"}`` or ``{"status": "refused", "reason"}``.
* ``user_typing`` (no data): the customer is typing; sent by the widget at most every 2 s
  once a person of the shop has written in the conversation, shown in the agent inbox.
* ``history_request`` ``{"before": cursor}``: acknowledged with the next older page,
  ``{"history", "more", "before"}``.
* ``user_uttered`` (``user_message_evt``) ``{"message": str, "display_text": str,
  "id": str}``: the session is the one this socket confirmed; client-sent session ids and
  metadata are ignored.  The channel writes the verified customer (or, for an anonymous
  session, no customer) into the message's metadata itself
  (:func:`bot.identity.metadata.stamp`).  ``display_text`` (optional) is what the user
  saw, e.g. a button title.  ``id`` (optional, 8-64 letters, digits or ``-``) is the
  widget's id of the message, stored in the user event's metadata (``client_id``); a
  message whose id the conversation already holds is not run again.  The acknowledgement
  ``{"status", "id"}`` is sent once the user event is stored (``ok``; ``duplicate``: it
  was already), so the widget resends unacknowledged messages after a reconnect.

Why a message re-checks expiry and revocation and not the token itself: the token was
verified once (signature, claims, purpose) and its ``jti`` used up when the socket signed
in; what the channel keeps is the verified :class:`~bot.identity.tokens.Identity`, in
server memory, which no client can change.  Verifying the same bytes again would give the
same answer for everything except the clock and a revocation, and presenting its ``jti``
again is by design a replay; so each message checks exactly those two: the expiry against
the clock, and the revocation in the shop database (shared by every Rasa worker).

Server → all sockets of the session (every tab), in order:

* ``user_echo`` ``{"text", "id"}``: a message sent from another socket (not to the sender);
* ``bot_typing`` ``{"typing": bool}``: a turn started / ended;
* ``agent_typing`` ``{"name", "typing"}``: a person is typing a reply in the agent inbox;
* ``bot_uttered`` (``bot_message_evt``): one bot message per event, in the shape of
  Rasa's ``CollectingOutputChannel`` (``text``, ``buttons`` [{title, payload}],
  ``custom`` such as the ``product_cards`` payload, ``image``, ``attachment``).

User text goes through :func:`connectors.sanitize.sanitize_message`; each turn runs
through :func:`bot.dialogue.turn.run_turn`.  Turns of one session run one at a time,
in arrival order, also across Rasa processes (the lock store), and their replies are
emitted, and handed to the tabs on the other Rasa processes
(:func:`connectors.pubsub.delivered`), before the next turn starts.

The HMAC secret comes from ``$TOUCHLINE_SESSION_SECRET``.  Without it each Rasa server
makes a random one (its Sanic workers share it: they fork after the channel is built), so
tokens do not survive a restart and are not accepted by another server: set it whenever
sessions must outlive a restart.  With several Sanic workers, the tabs of one session may
sit on different workers: every emit to a session's room reaches them all through
:func:`connectors.pubsub.client_manager` (Redis with ``$REDIS_URL``).  HTTP
long-polling is accepted with one worker only (:func:`transports`).  Every worker starts
its client manager when it starts (python-socketio would wait for the first connection),
so it hears the other processes from the start.  CORS: like Rasa's channel, socket.io
leaves CORS to Sanic (``rasa run --cors``); the widget connects over WebSocket, which
needs none, and falls back to polling, which does.

The same pub/sub carries what only another process can do: an agent's message for a phone
call whose Media Stream another process holds is offered to the others
(:meth:`SocketIOInput.forward_call_message`) and spoken by the one that holds it
(:meth:`SocketIOInput.take_call_message`; :mod:`bot.dialogue.call_messages`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from bot.config import settings
from bot.dialogue.call_messages import PROCESS_CALLS, CallMessage, CallMessages
from bot.dialogue.conversation_reads import has_user_message
from bot.dialogue.turn import bounded_traceback, run_turn
from bot.dialogue.turn_feed import PROCESS_FEED, SharedTurn, TurnFeed
from bot.identity.metadata import stamp
from bot.identity.revocation import is_revoked
from bot.identity.tokens import Identity, IdentityError, IdentityKeys, verify
from bot.store.db import session_scope
from bot.store.identity import consume_token_id
from bot.store.inbox import customer_typing
from bot.support.display import displayed_text
from bot.support.messages import AGENT_KEY, BotMessage
from bot.support.wording import APOLOGY
from connectors.metadata import CLIENT_ID_PATTERN
from connectors.pubsub import DeliveryBarrier, client_manager, delivered, offered, sanic_workers
from connectors.sanitize import sanitize_message
from connectors.sessions import SessionSigner
from connectors.widget_history import (
    CLIENT_ID,
    HistoryPage,
    agent_name,
    history_page,
    public_message,
    sql_store,
)

logger = logging.getLogger(__name__)

CALL_MESSAGE = "call_message"
"""Key of a :class:`CallMessage` in the data of a pub/sub offer."""



def transports() -> list[str]:
    """Engine.IO transports this server accepts.

    HTTP long-polling sends each request of a connection separately, and the processes of
    several Sanic workers share the port without sticky routing, so a poll can reach a
    worker that does not know the connection (``400 Invalid session``, or a request that
    hangs).  With more than one worker only WebSocket is accepted: a polling handshake gets
    ``400 Invalid transport`` at once, which the widget reports.
    """
    return ["websocket"] if sanic_workers() > 1 else ["polling", "websocket"]


class RoomOutputChannel(CollectingOutputChannel):
    """Emits each bot message to the session's room as it is produced.

    Used for messages Rasa sends outside a user turn (``/conversations/{id}/trigger_intent``
    with the ``latest`` output channel, reminders), in the same shape as turn replies.
    """

    def __init__(self, sio: AsyncServer, event: str, namespace: str | None) -> None:
        """Args: sio: the server; event: ``bot_message_evt``; namespace: socket.io namespace."""
        super().__init__()
        self._sio = sio
        self._event = event
        self._namespace = namespace

    @classmethod
    def name(cls) -> str:
        """Same name as the input channel."""
        return "socketio"

    async def send_text_message(self, recipient_id: str, text: str,
                                **kwargs: Any) -> None:  # noqa: ANN401
        """Emit the text's paragraphs; a message a person wrote in the agent inbox
        (``kwargs[AGENT_KEY]``, from the bot event's metadata) carries their name as
        ``agent``."""
        name = agent_name(kwargs.get(AGENT_KEY))
        for part in text.strip().split("\n\n"):
            message: BotMessage = self._message(recipient_id, text=part)
            if name is not None:
                message["agent"] = name
            await self._persist_message(message)

    async def _persist_message(self, message: BotMessage) -> None:
        await self._sio.emit(
            self._event, public_message(message), room=message["recipient_id"],
            namespace=self._namespace,
        )


class SocketIOInput(RasaSocketIOInput):
    """Socket.io channel for the website widget (Rasa name ``socketio``).

    ``credentials.yml``::

        connectors.socketio.SocketIOInput:
          user_message_evt: user_uttered
          bot_message_evt: bot_uttered
          session_persistence: true
    """

    def __init__(self, *args: Any, feed: TurnFeed = PROCESS_FEED,
                 calls: CallMessages = PROCESS_CALLS, **kwargs: Any) -> None:  # noqa: ANN401
        """Rasa's arguments (see ``RasaSocketIOInput.__init__``), plus:

        Args:
            feed: where turns made elsewhere (spoken ones) are published; they are shown in
                the session's tabs (:meth:`share`).
            calls: the hub of messages for phone calls: this channel forwards the ones this
                process cannot speak to the other Rasa processes over its pub/sub, and
                speaks the ones they forward through it (:meth:`forward_call_message`).

        Raises:
            ValueError: ``session_persistence`` is off or ``jwt_key`` is set; sessions are
                always persistent and authenticated by this channel's own tokens.
        """
        super().__init__(*args, **kwargs)
        if not self.session_persistence:
            raise ValueError("connectors.socketio.SocketIOInput needs session_persistence: true")
        if self.jwt_key:
            raise ValueError("jwt_key is not supported; sessions use signed session tokens")
        self.signer = SessionSigner.from_env()
        self.feed = feed
        self.calls = calls
        self.identity_keys = IdentityKeys.from_settings()
        self._app: Sanic | None = None
        self._sessions: dict[str, str] = {}
        self._identities: dict[str, Identity] = {}
        """Socket id -> the customer it signed in as (anonymous sockets are absent)."""
        self._expiry_timers: dict[str, asyncio.TimerHandle] = {}

    def get_output_channel(self) -> OutputChannel | None:
        """An output channel emitting to the conversation's room (``None`` before start-up)."""
        if self.sio is None:
            return None
        return RoomOutputChannel(self.sio, self.bot_message_evt, self.namespace)

    def _agent(self) -> Any:  # noqa: ANN401
        """The Rasa server's agent (``None`` before it is loaded)."""
        return getattr(self._app.ctx, "agent", None) if self._app else None

    def _tracker_store(self) -> Any:  # noqa: ANN401
        """The Rasa server's tracker store (``None`` before the agent is loaded)."""
        agent = self._agent()
        return agent.tracker_store if agent is not None else None

    @asynccontextmanager
    async def _gate(self, session_id: str) -> AsyncIterator[None]:
        """Hold the session's widget lock: first come first served, in this process and
        across the Rasa processes (the agent's lock store, key ``widget:<session id>``,
        which is not the conversation's own lock that Rasa takes inside a turn).

        Raises:
            RuntimeError: the agent is not loaded yet.
        """
        agent = self._agent()
        if agent is None or agent.lock_store is None:
            raise RuntimeError("the Rasa agent is not loaded yet")
        async with agent.lock_store.lock(f"widget:{session_id}"):
            yield

    async def _history(self, session_id: str, before: object = None) -> HistoryPage:
        """A page of the session's history (:func:`connectors.widget_history.history_page`),
        or an empty one (logged) when the tracker store fails."""
        store = self._tracker_store()
        cursor = before if isinstance(before, int) and not isinstance(before, bool) else None
        try:
            if store is not None:
                return await history_page(store, session_id, cursor)
        except Exception:
            logger.exception("could not read the history of a widget session")
        return {"history": [], "more": False, "before": None}

    async def _stored(self, session_id: str, client_id: str) -> bool:
        """Whether the conversation already holds the user message ``client_id`` (a database
        read, in a worker thread)."""
        store = sql_store(self._tracker_store())
        if store is None:
            return False
        return await asyncio.to_thread(has_user_message, store, session_id, CLIENT_ID, client_id)

    async def _signed_in(self, request: dict[str, Any]) -> Identity | None:
        """The customer a ``session_request`` signs in: an identity token (verified, not
        revoked, its ``jti`` used up) or an unrevoked resume token of this server; ``None``
        for neither.

        Raises:
            IdentityError: a token was offered and is refused.
        """
        if "identity" in request:
            identity = await _current(verify(request["identity"], self.identity_keys))
            if not await asyncio.to_thread(_use_up, identity):
                raise IdentityError("identity token presented again", "replayed")
            return identity
        if "resume" in request:
            return await _current(self.signer.resumed_identity(request["resume"]))
        return None

    async def _join(self, sid: str, data: object) -> None:
        """Handle ``session_request``: a signed-in customer joins the token's conversation;
        an anonymous one resumes with a valid session token, else starts afresh."""
        sio = self.sio
        assert sio is not None
        request = data if isinstance(data, dict) else {}
        try:
            identity = await self._signed_in(request)
        except IdentityError as exc:
            logger.warning("widget identity refused: %s", exc)
            await sio.emit("identity_refused", {"reason": exc.reason}, to=sid,
                           namespace=self.namespace)
            await sio.disconnect(sid, namespace=self.namespace)
            return
        confirm: dict[str, Any] = {}
        if identity is not None:
            session_id, token, resumed = identity.conversation_id, "", True
            confirm = {"customer": True, "expires_at": identity.expires_at,
                       "resume": self.signer.resume_token(identity)}
        else:
            session_id, token = request.get("session_id"), request.get("token")
            resumed = self.signer.verify(session_id, token)
            if not resumed:
                session_id, token = self.signer.issue()
        previous = self._sessions.get(sid)
        if previous is not None and previous != session_id:
            await sio.leave_room(sid, previous, namespace=self.namespace)
        self._sign_in(sid, identity)
        # Under the session's lock, a reply is either in the history or emitted to the
        # joined room afterwards, never both and never neither.
        try:
            async with self._gate(session_id):
                await sio.enter_room(sid, session_id, namespace=self.namespace)
                self._sessions[sid] = session_id
                page = (await self._history(session_id) if resumed
                        else {"history": [], "more": False, "before": None})
                await sio.emit(
                    "session_confirm",
                    {"session_id": session_id, "token": token, "resumed": resumed, **page,
                     **confirm},
                    to=sid, namespace=self.namespace,
                )
        except Exception as exc:  # the session's lock cannot be had: the widget reconnects
            logger.error("widget session %s not joined; disconnecting the socket\n%s",
                         session_id, bounded_traceback(exc))
            self._sessions.pop(sid, None)
            await sio.disconnect(sid, namespace=self.namespace)

    def _sign_in(self, sid: str, identity: Identity | None) -> None:
        """Remember socket ``sid``'s customer (``None``: anonymous) and sign the socket out
        when the identity expires (:meth:`_expire`)."""
        timer = self._expiry_timers.pop(sid, None)
        if timer is not None:
            timer.cancel()
        if identity is None:
            self._identities.pop(sid, None)
            return
        self._identities[sid] = identity
        delay = max(identity.expires_at - time.time(), 0)
        loop = asyncio.get_running_loop()
        self._expiry_timers[sid] = loop.call_later(
            delay, lambda: loop.create_task(self._expire(sid, identity)))

    async def _expire(self, sid: str, identity: Identity) -> None:
        """Sign socket ``sid`` out (:meth:`_sign_out`) if ``identity`` is still its sign-in
        and has expired (a refresh replaced it otherwise)."""
        if identity.expires_at <= time.time():
            await self._sign_out(sid, identity, "expired")

    async def _check_sign_in(self, sid: str) -> None:
        """Sign socket ``sid`` out (:meth:`_sign_out`) when its sign-in has expired or the
        shop revoked it (a database read, in a worker thread); nothing for an anonymous
        socket."""
        identity = self._identities.get(sid)
        if identity is None:
            return
        try:
            await _current(identity)
        except IdentityError as exc:
            await self._sign_out(sid, identity, exc.reason)

    async def _sign_out(self, sid: str, identity: Identity, reason: str) -> None:
        """End socket ``sid``'s sign-in ``identity`` (no-op when it is no longer the
        socket's: a refresh replaced it, or it ended already): the socket leaves the
        customer's conversation and joins a fresh anonymous session (``session_confirm``,
        then ``identity_expired`` ``{"reason"}``)."""
        sio = self.sio
        assert sio is not None
        if self._identities.get(sid) != identity:
            return
        previous = self._sessions.get(sid)
        logger.info("widget sign-in of conversation %s ended: %s", previous, reason)
        self._sign_in(sid, None)
        if previous is not None:
            await sio.leave_room(sid, previous, namespace=self.namespace)
        session_id, token = self.signer.issue()
        await sio.enter_room(sid, session_id, namespace=self.namespace)
        self._sessions[sid] = session_id
        await sio.emit("session_confirm", {
            "session_id": session_id, "token": token, "resumed": False, "history": [],
            "more": False, "before": None}, to=sid, namespace=self.namespace)
        await sio.emit("identity_expired", {"reason": reason}, to=sid, namespace=self.namespace)

    async def _refresh(self, sid: str, data: object) -> dict[str, Any]:
        """Handle ``identity_refresh`` ``{"identity": token}``: a fresh identity token of the
        socket's customer and conversation extends the sign-in.

        Returns:
            The acknowledgement ``{"status": "ok", "resume", "expires_at"}`` or
            ``{"status": "refused", "reason"}``.
        """
        current = self._identities.get(sid)
        token = data.get("identity") if isinstance(data, dict) else None
        try:
            if current is None:
                raise IdentityError("refresh of an anonymous session")
            fresh = await _current(verify(token, self.identity_keys))
            if (fresh.customer_id, fresh.conversation_id) != (
                    current.customer_id, current.conversation_id):
                raise IdentityError("refresh for another customer or conversation", "other")
            if not await asyncio.to_thread(_use_up, fresh):
                raise IdentityError("identity token presented again", "replayed")
        except IdentityError as exc:
            logger.warning("widget identity refresh refused: %s", exc)
            return {"status": "refused", "reason": exc.reason}
        self._sign_in(sid, fresh)
        return {"status": "ok", "resume": self.signer.resume_token(fresh),
                "expires_at": fresh.expires_at}

    async def _older(self, sid: str, data: object) -> HistoryPage:
        """Handle ``history_request`` ``{"before": cursor}``: the acknowledgement is the
        page of older turns of this socket's session (empty without a session)."""
        session_id = self._sessions.get(sid)
        if session_id is None:
            return {"history": [], "more": False, "before": None}
        before = data.get("before") if isinstance(data, dict) else None
        return await self._history(session_id, before)

    async def _turn(
        self, sid: str, data: object, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> dict[str, Any]:
        """Handle one user message: run the turn, emit its replies to the session's room.

        A message with an ``id`` (:data:`CLIENT_ID_PATTERN`) already stored in the
        conversation (the widget sent it again after a reconnect) is not run again.

        Returns:
            The acknowledgement: ``{"status": "ok" | "duplicate" | "not_stored" | "failed" |
            "no_session", "id": the message id or None}``; ``ok`` and ``duplicate`` mean
            that the user event is stored in the tracker store (of the anonymous session
            the socket was moved to, when the message found the sign-in lapsed); ``failed``
            that the session's lock or the tracker store could not be reached (a
            ``LockWaitTimeout``, an outage): the asking tab got the apology and the
            message may be sent again.
        """
        sio = self.sio
        assert sio is not None
        body = data if isinstance(data, dict) else {}
        client_id = body.get("id")
        if not (isinstance(client_id, str) and CLIENT_ID_PATTERN.fullmatch(client_id)):
            client_id = None
        session_id = self._sessions.get(sid)
        if session_id is None:
            logger.warning("widget message before session_request; not taken")
            return {"status": "no_session", "id": client_id}
        await self._check_sign_in(sid)
        session_id, identity = self._sessions.get(sid), self._identities.get(sid)
        if session_id is None:  # disconnected meanwhile
            return {"status": "no_session", "id": client_id}
        raw = body.get("message")
        text, metadata = sanitize_message(raw, display=body.get("display_text"))
        stamp(metadata, identity.customer_id if identity is not None else None)
        if client_id is not None:
            metadata[CLIENT_ID] = client_id
        shown = displayed_text(text, metadata)
        echo = {"text": shown, **({"id": client_id} if client_id else {})}
        room = {"room": session_id, "namespace": self.namespace}
        try:
            return await self._gated_turn(sid, session_id, client_id, text, metadata, echo,
                                          room, on_new_message)
        except Exception as exc:  # lock store or database unreachable: ask to send again
            logger.error("widget message %s of %s not taken\n%s", client_id, session_id,
                         bounded_traceback(exc))
            to = {"to": sid, "namespace": self.namespace, "ignore_queue": True}  # no pub/sub
            await sio.emit("bot_typing", {"typing": True}, **to)
            await sio.emit(self.bot_message_evt, {"text": APOLOGY}, **to)
            await sio.emit("bot_typing", {"typing": False}, **to)
            return {"status": "failed", "id": client_id}

    async def _gated_turn(self, sid: str, session_id: str, client_id: str | None, text: str,
                          metadata: dict[str, Any], echo: dict[str, Any], room: dict[str, Any],
                          on_new_message: Callable[[UserMessage], Awaitable[Any]]
                          ) -> dict[str, Any]:
        """The part of :meth:`_turn` under the session's widget lock (:meth:`_gate`).

        Raises:
            Exception: the lock store or the tracker store failed (see :meth:`_turn`).
        """
        sio = self.sio
        assert sio is not None
        async with self._gate(session_id):
            if client_id is not None and await self._stored(session_id, client_id):
                return {"status": "duplicate", "id": client_id}
            await sio.emit("user_echo", echo, skip_sid=sid, **room)
            await sio.emit("bot_typing", {"typing": True}, **room)
            replies = await run_turn(on_new_message, text, session_id, self.name(), metadata)
            try:
                for message in replies:
                    await sio.emit(self.bot_message_evt, public_message(message), **room)
            finally:
                await sio.emit("bot_typing", {"typing": False}, **room)
                # The tabs on other workers hold the turn before its session's next turn,
                # maybe run there, emits anything (connectors/pubsub.py).
                await delivered(sio.manager)
            if client_id is not None and not await self._stored(session_id, client_id):
                logger.error("widget message %s of %s was not stored", client_id, session_id)
                return {"status": "not_stored", "id": client_id}
        return {"status": "ok", "id": client_id}

    async def share(self, turn: SharedTurn) -> None:
        """Show a turn that did not come through this socket (a spoken one) in the session's
        open tabs (its room, except ``turn.skip_client``): the user's words as ``user_echo``
        (``spoken: true``), then the replies."""
        if self.sio is None:
            return
        room = {"room": turn.conversation_id, "namespace": self.namespace,
                "skip_sid": turn.skip_client}
        await self.sio.emit("user_echo", {"text": turn.transcript, "spoken": True}, **room)
        for message in turn.messages:
            await self.sio.emit(self.bot_message_evt, public_message(message), **room)

    async def forward_call_message(self, message: CallMessage) -> bool:
        """Offer ``message`` to the other Rasa processes over the client manager's pub/sub
        (:func:`connectors.pubsub.offered`); the one holding the call speaks it
        (:meth:`take_call_message`).

        Returns:
            Whether another process spoke it (``False`` with one process, before start-up,
            or when no process holds the call).
        """
        if self.sio is None:
            return False
        return await offered(self.sio.manager, {CALL_MESSAGE: message.as_dict()})

    async def take_call_message(self, data: Any) -> bool:  # noqa: ANN401
        """Speak a message another process offered (:meth:`forward_call_message`) if this
        process holds its call (:meth:`CallMessages.speak_here`, never forwarded again).

        Returns:
            Whether it was spoken here (``False`` too for an offer of something else).
        """
        message = CallMessage.from_dict(data.get(CALL_MESSAGE) if isinstance(data, dict)
                                        else None)
        return message is not None and await self.calls.speak_here(message)

    async def _user_typing(self, sid: str) -> None:
        """Handle ``user_typing`` (the widget sends it at most every 2 s while its customer
        types to a person): the agent inbox shows the customer typing
        (:func:`bot.store.inbox.customer_typing`, a database write in a worker thread;
        nothing while nobody holds the conversation)."""
        session_id = self._sessions.get(sid)
        if session_id is not None:
            await asyncio.to_thread(_record_typing, session_id)

    async def _agent_typing(self, request: Request) -> HTTPResponse:
        """``POST /webhooks/socketio/agent_typing`` ``{"conversation_id", "name",
        "typing"}`` from the agent inbox (``Authorization: Bearer $RASA_AUTH_TOKEN``): the
        session's tabs get ``agent_typing`` ``{"name", "typing"}``.  401 without the token,
        400 for a malformed body."""
        token = settings().rasa_auth_token
        given = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        if not token or not hmac.compare_digest(given.encode(), token.encode()):
            return response.json({"error": "unauthorized"}, status=401)
        body = request.json if isinstance(request.json, dict) else {}
        conversation, name = body.get("conversation_id"), body.get("name")
        if not (isinstance(conversation, str) and isinstance(name, str)
                and isinstance(body.get("typing"), bool)) or self.sio is None:
            return response.json({"error": "conversation_id, name and typing needed"},
                                 status=400)
        await self.sio.emit("agent_typing", {"name": name[:100], "typing": body["typing"]},
                            room=conversation, namespace=self.namespace)
        return response.json({"status": "ok"})

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        """The socket.io server at ``socketio_path`` plus ``GET /webhooks/socketio/`` (health).

        Args:
            on_new_message: Rasa's handler running a turn for a :class:`UserMessage`.

        Returns:
            A blueprint that attaches the socket.io server to the Sanic app.
        """
        # cors_allowed_origins=[]: CORS headers come from Sanic (`rasa run --cors`), as in Rasa.
        # The client manager shares emits with the other Sanic workers (connectors/pubsub.py).
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[],
                          client_manager=client_manager(), transports=transports())
        self.sio = sio
        self.feed.subscribe(self.share)
        self.calls.forward_with(self.forward_call_message)
        if isinstance(sio.manager, DeliveryBarrier):
            sio.manager.take_offers(self.take_call_message)
        hook = SocketBlueprint(sio, self.socketio_path, "touchline_socketio", __name__)

        @hook.listener("before_server_start")
        async def remember_app(app: Sanic, _loop: object) -> None:
            self._app = app
            # Start the pub/sub now, in this worker (python-socketio starts it on the first
            # connection): a worker no widget has reached yet must still hear the others
            # (offers of call messages, connectors/pubsub.py) under an id of its own.
            if not sio.manager_initialized:
                sio.manager_initialized = True
                sio.manager.initialize()

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/agent_typing", methods=["POST"])
        async def agent_typing(request: Request) -> HTTPResponse:
            return await self._agent_typing(request)

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: str, _reason: object = None) -> None:
            self._sessions.pop(sid, None)
            self._sign_in(sid, None)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: object = None) -> None:
            await self._join(sid, data)

        @sio.on("identity_refresh", namespace=self.namespace)
        async def identity_refresh(sid: str, data: object = None) -> dict[str, Any]:
            return await self._refresh(sid, data)

        @sio.on("history_request", namespace=self.namespace)
        async def history_request(sid: str, data: object = None) -> dict[str, Any]:
            return await self._older(sid, data)

        @sio.on("user_typing", namespace=self.namespace)
        async def user_typing(sid: str, _data: object = None) -> None:
            await self._user_typing(sid)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def user_message(sid: str, data: object = None) -> dict[str, Any]:
            return await self._turn(sid, data, on_new_message)

        return hook


async def _current(identity: Identity) -> Identity:
    """``identity`` if it has at least a second left (verification tolerates a few seconds
    of clock skew past ``exp``; a sign-in starting now would end at once) and the shop has
    not revoked it (a database read, in a worker thread).

    Raises:
        IdentityError: it has expired (reason ``expired``) or is revoked (``revoked``).
    """
    if identity.expires_at - time.time() < 1:
        raise IdentityError("token expired", "expired")
    if await asyncio.to_thread(is_revoked, identity):
        raise IdentityError("sign-in revoked by the shop", "revoked")
    return identity


def _record_typing(session_id: str) -> None:
    """Mark the customer of ``session_id`` typing in the agent inbox (errors are logged)."""
    try:
        with session_scope() as session:
            customer_typing(session, session_id)
    except Exception:
        logger.exception("could not record that a widget customer is typing")


def _use_up(identity: Identity) -> bool:
    """Record the identity token's ``jti`` in the shop database (a worker thread's work);
    ``False`` when it was used before."""
    with session_scope() as session:
        return consume_token_id(session, identity.token_id, identity.expires_at)
