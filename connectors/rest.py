"""REST channel with input validation: ``POST /webhooks/rest/webhook``.

Same contract as Rasa's built-in ``rest`` channel (``{"sender": str, "message": str,
"metadata": {...}}`` in, a JSON list of bot messages out, see
``rasa/core/channels/rest.py``), plus:

* a body that is not a JSON object, or lacks a string ``sender`` of 1–128 characters (no
  lone UTF-16 surrogates), gets a 400 with an explanation instead of a 500;
* a ``sender`` in another channel's namespace (:class:`bot.dialogue.turn.Namespace`:
  ``telegram:``, ``voice:``, ``call:``, in any letter case) gets a 403: the REST channel
  trusts the sender it is given (it is meant for your own backend and for the demo), so it
  must not be able to speak inside Telegram chats or phone calls;
* ``metadata`` must be a JSON object of at most :data:`~connectors.metadata.MAX_METADATA_DEPTH`
  levels and :data:`~connectors.metadata.MAX_METADATA_CHARS` characters, else a 400 that
  says which limit (:func:`connectors.metadata.metadata_problem`);
* REST has no login, so a sender is anonymous unless ``metadata.customer_token`` holds a
  valid identity token (:mod:`bot.identity.tokens`) whose ``sid`` is this ``sender``: then
  the channel writes the token's customer into the message's metadata
  (:func:`bot.identity.metadata.stamp`, over anything the client put there) and drops the
  token itself.  A refused token gets a 401 that says why.  The token may be sent with
  every message until it expires (there is no connection to bind a ``jti`` to);
* the message goes through :func:`connectors.sanitize.sanitize_text` (slash-intent
  allow-list, length cap, empty messages → the rephrase flow);
* a turn that failed silently gets an apology (:func:`bot.dialogue.turn.run_turn`);
* ``message_id`` (optional, 8-64 letters, digits or ``-``) makes a resent message safe: it
  is stored in the user event's metadata (``client_id``), and a message whose id the
  conversation already holds is not run again: the answer is the bot messages that
  answered it then.  A client whose request was cut (a timeout, a server that died
  mid-turn) resends with the same id and gets one turn, never two
  (:func:`connectors.turn_once.run_turn_once`: the check and the turn hold a lock of the
  conversation, so two copies sent to two servers at once are also run once).  When the
  lock store or the tracker store cannot be reached for that check, the answer is the
  apology (send it again), never a 500.

Streaming (``?stream=true``) is not offered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.dialogue.turn import ConversationId, bounded_traceback, run_turn
from bot.identity.metadata import stamp
from bot.identity.revocation import is_revoked
from bot.identity.tokens import IdentityError, IdentityKeys, verify
from bot.support.display import has_surrogates
from bot.support.wording import APOLOGY
from connectors.metadata import CLIENT_ID_PATTERN, MAX_METADATA_DEPTH, metadata_problem
from connectors.sanitize import sanitize_message
from connectors.turn_once import NotReady, run_turn_once

logger = logging.getLogger(__name__)

MAX_SENDER_CHARS = 128
CUSTOMER_TOKEN = "customer_token"
"""Metadata key of a REST message's identity token."""


def verified_customer(sender: str, metadata: dict[str, Any], keys: IdentityKeys) -> int | None:
    """The customer ``metadata``'s identity token signs in for ``sender`` (the token is
    removed from ``metadata``); ``None`` without a token.

    Blocking (the revocation is read from the shop database): call it in a worker thread.

    Raises:
        IdentityError: the token is refused, it is for another conversation, or the shop
            revoked the conversation's sign-in since the token was issued.
    """
    token = metadata.pop(CUSTOMER_TOKEN, None)
    if token is None:
        return None
    identity = verify(token, keys)
    if identity.conversation_id != sender:
        raise IdentityError("the token is for another conversation")
    if is_revoked(identity):
        raise IdentityError("the shop revoked this sign-in", "revoked")
    return identity.customer_id


def _bad_request(reason: str) -> HTTPResponse:
    return response.json({"error": reason}, status=400)


class RestInput(InputChannel):
    """Validated REST channel, registered under Rasa's name ``rest``."""

    @classmethod
    def name(cls) -> str:
        """Channel name; the webhook lives at ``/webhooks/rest/webhook``."""
        return "rest"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        """Routes: ``GET /`` (health) and ``POST /webhook``."""
        hook = Blueprint("touchline_rest", __name__)
        keys = IdentityKeys.from_settings()

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = request.json
            except Exception:  # sanic raises on malformed JSON, also on nesting too deep
                return _bad_request("body must be a JSON object (at most "
                                    f"{MAX_METADATA_DEPTH} levels of metadata nesting)")
            if not isinstance(body, dict):
                return _bad_request("body must be a JSON object")
            sender = body.get("sender")
            if not isinstance(sender, str) or not 0 < len(sender) <= MAX_SENDER_CHARS:
                return _bad_request(f"'sender' must be a string of 1-{MAX_SENDER_CHARS} chars")
            if has_surrogates(sender):
                return _bad_request("'sender' must be valid Unicode text")
            if ConversationId.is_reserved(sender):
                return response.json(
                    {"error": "'sender' belongs to another channel's conversations"}, status=403
                )
            message_id = body.get("message_id")
            if message_id is not None and not (
                    isinstance(message_id, str) and CLIENT_ID_PATTERN.fullmatch(message_id)):
                return _bad_request("'message_id' must be 8-64 letters, digits or '-'")
            metadata = body.get("metadata")
            problem = metadata_problem(metadata)
            if problem is not None:
                logger.info("REST message from %s refused: %s", sender, problem)
                return _bad_request(problem)
            text, metadata = sanitize_message(body.get("message"), metadata)
            try:
                customer = await asyncio.to_thread(verified_customer, sender, metadata, keys)
            except IdentityError as exc:
                logger.info("REST message from %s refused: %s", sender, exc)
                return response.json({"error": f"customer_token refused: {exc}"}, status=401)
            stamp(metadata, customer)
            if message_id is None:
                return response.json(await run_turn(on_new_message, text, sender,
                                                    self.name(), metadata))
            try:
                return response.json(await run_turn_once(
                    getattr(request.app.ctx, "agent", None), on_new_message, text, sender,
                    self.name(), metadata, message_id))
            except NotReady:
                return response.json({"error": "the assistant is starting; retry"}, status=503)
            except Exception as exc:  # lock store or tracker store down: ask to resend
                logger.error("REST message %s from %s not taken\n%s", message_id, sender,
                             bounded_traceback(exc))
                return response.json([{"recipient_id": sender, "text": APOLOGY}])

        return hook
