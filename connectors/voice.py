"""Voice gateway: a Rasa input channel for phone calls and recorded speech.

Routes, under Rasa's channel prefix ``/webhooks/voice/``:

``GET /``
    Health: whether the speech engines are loaded, and which.
``POST /twiml``
    Twilio's "A call comes in" webhook.  Answers TwiML that connects the call to
    ``/stream`` (``<Connect><Stream>``, a bidirectional Media Stream) at the configured
    public URL (``$TOUCHLINE_VOICE_PUBLIC_URL``, never the request's ``Host``) with a stream
    token signed for the call SID and the caller's number (:func:`stream_claim`; purpose
    :data:`CALL_STREAM`: it is no widget session token), so that a leaked stream token
    cannot claim another number, whose PIN it could then try.  The request's
    ``X-Twilio-Signature`` must be valid (else 403); without
    ``$TWILIO_AUTH_TOKEN`` or ``$TOUCHLINE_VOICE_PUBLIC_URL`` every call is refused (503,
    and an error in the log saying which is missing) instead of signing stream tokens for
    anyone.  The signed ``From`` goes to the stream as the ``from`` parameter; a caller is
    anonymous unless that number is registered and the caller keys in its PIN
    (:mod:`connectors.voice_call`).
``WebSocket /stream``
    Twilio Media Streams: see :mod:`connectors.voice_call`.
``POST /utterance``
    A recorded utterance (WAV, OGG/Opus or WebM/Opus body; at most
    :data:`MAX_UPLOAD_BYTES` and 60 s) in; JSON out: ``session_id`` and ``token`` (send both
    back for the next turn; a widget session's id and token work too (a signed-in widget
    session's resume token too: the turn is then that customer's), and the turn then
    also appears in the session's other open tabs, except the socket ``sid`` names),
    ``transcript``,
    ``messages`` (bot messages as the REST channel returns them), ``reply_text`` and
    ``audio`` (``{"format", "mime", "base64"}`` of the spoken reply, or ``null``).
    Query ``reply_format=wav|ogg`` (default ``wav``).  Errors: 400 (empty body, bad
    parameter), 401 (token does not match the session), 413 (too large or too long), 415
    (not audio), 503 (speech engines unavailable); the body is ``{"error": "..."}``.

Messages sent into a call's conversation from outside a turn (the agent inbox, over
Rasa's events API with ``output_channel=voice``) are spoken on the live call, by whichever
Rasa process holds its stream (:meth:`VoiceInput.get_output_channel`,
:mod:`connectors.voice_output`, :mod:`bot.dialogue.call_messages`).

``credentials.yml``::

    connectors.voice.VoiceInput:
      public_url_env: TOUCHLINE_VOICE_PUBLIC_URL   # https://your.host (for the TwiML)
      twilio_auth_token_env: TWILIO_AUTH_TOKEN     # checks X-Twilio-Signature when set
      silence_s: 8                                 # $TOUCHLINE_VOICE_SILENCE_S overrides
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.exceptions import WebsocketClosed
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, Stream, VoiceResponse
from websockets.exceptions import ConnectionClosed

from bot.config import settings
from bot.dialogue.call_messages import PROCESS_CALLS, CallMessages
from bot.dialogue.turn import ConversationId
from bot.dialogue.turn_feed import PROCESS_FEED, SharedTurn, TurnFeed
from bot.identity.metadata import stamp
from bot.identity.tokens import IdentityError
from bot.search.wording import SPOKEN_OPENINGS as SEARCH_OPENINGS
from bot.speech.audio import AudioError, decode, encode
from bot.speech.engines import SpeechEngines, shared_engines
from bot.support.wording import SPOKEN_OPENINGS
from connectors.sessions import SessionSigner
from connectors.voice_call import CHANNEL, CallSettings, TwilioCall
from connectors.voice_output import CallOutput, speak_on_live_call
from connectors.voice_speculation import Speculator, response_openers
from connectors.voice_turn import answer_speech, speak_all

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
"""Largest utterance body accepted, in bytes."""
MIMES = {"wav": "audio/wav", "ogg": "audio/ogg"}
CALL_STREAM = "touchline-call-stream"
"""Purpose signed into a phone call's stream token, so it is no widget session token."""


def stream_claim(call_sid: str, caller: str | None) -> str:
    """What a call's stream token signs: the call's conversation and the caller's number.

    Args:
        call_sid: Twilio's call SID.
        caller: the ``From`` number Twilio signed (``None`` or ``""`` when withheld).

    Returns:
        ``"call:<sid>|<number>"`` (the number empty when withheld).
    """
    return f"{ConversationId.call_stream(call_sid)}|{caller or ''}"
SIGNATURE_HEADER = "X-Twilio-Signature"


def _error(status: int, reason: str) -> HTTPResponse:
    return response.json({"error": reason}, status=status)


class VoiceInput(InputChannel):
    """Phone calls (Twilio Media Streams) and recorded utterances, Rasa name ``voice``.

    Args:
        public_url: the server's public base URL (``https://host``) put in the TwiML stream
            URL and used to check signatures; ``None``: phone calls are refused.
        twilio_auth_token: the Twilio account's auth token, to check webhook signatures;
            ``None``: phone calls are refused.
        settings: call timing.
        feed: where a widget session's spoken turns are published, so the session's other
            tabs show them (the widget channel subscribes to the same feed).
        calls: the hub through which messages sent into a call's conversation from
            outside a turn reach the process holding the call (this channel speaks those
            of the calls this process holds; the widget channel forwards the others).
        on_demand: load the speech engines at their first use, not at server start, and
            prepare no reply openings (``$TOUCHLINE_VOICE_ON_DEMAND``).
    """

    def __init__(self, public_url: str | None = None, twilio_auth_token: str | None = None,
                 settings: CallSettings | None = None, feed: TurnFeed = PROCESS_FEED,
                 calls: CallMessages = PROCESS_CALLS, on_demand: bool = False) -> None:
        self.feed = feed
        self.on_demand = on_demand
        self.calls = calls
        self.public_url = public_url.rstrip("/") if public_url else None
        self.validator = RequestValidator(twilio_auth_token) if twilio_auth_token else None
        self.settings = settings or CallSettings()
        self.signer = SessionSigner.from_env()
        self._engines: asyncio.Task[SpeechEngines] | None = None

    @classmethod
    def name(cls) -> str:
        """Channel name; routes live under ``/webhooks/voice/``."""
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> VoiceInput:
        """Build from the ``credentials.yml`` block (``*_env`` keys name variables)."""
        creds = credentials or {}
        config = settings()

        def env(key: str, default: str) -> str | None:
            return config.named(str(creds.get(key) or default))

        silence = config.voice_silence_s  # $TOUCHLINE_VOICE_SILENCE_S overrides silence_s
        if silence is None:
            silence = float(creds.get("silence_s") or CallSettings.silence_s)
        return cls(env("public_url_env", "TOUCHLINE_VOICE_PUBLIC_URL"),
                   env("twilio_auth_token_env", "TWILIO_AUTH_TOKEN"),
                   CallSettings.for_pipeline(config.voice_pipeline, silence),
                   on_demand=config.voice_on_demand)

    def get_output_channel(self) -> OutputChannel:
        """Where messages sent into a call's conversation from outside a turn go (the agent
        inbox): spoken on the live call, in whichever process holds it
        (:class:`connectors.voice_output.CallOutput`)."""
        return CallOutput(self.calls)

    def call_token(self, call_sid: str, caller: str | None) -> str:
        """The stream token of ``call_sid`` from ``caller`` (HMAC-SHA256 with the session
        secret over :func:`stream_claim`)."""
        return self.signer.token(stream_claim(call_sid, caller), purpose=CALL_STREAM)

    def _token_ok(self, call_sid: str, caller: str | None, token: str) -> bool:
        return self.signer.verify(stream_claim(call_sid, caller), token, purpose=CALL_STREAM)

    async def engines(self) -> SpeechEngines:
        """The speech engines (loading starts at server start; this waits for it).

        Raises:
            Exception: whatever loading raised (for example ``ModelIntegrityError``).
        """
        if self._engines is None:
            self._engines = asyncio.ensure_future(asyncio.to_thread(shared_engines))
        return await asyncio.shield(self._engines)

    def _stream_url(self, public_url: str) -> str:
        """The Media Streams WebSocket URL under the configured public URL."""
        base = urlsplit(public_url)
        scheme = "wss" if base.scheme == "https" else "ws"
        return f"{scheme}://{base.netloc}/webhooks/{CHANNEL}/stream"

    def _refusal(self) -> str:
        """Why phone calls are refused: the missing setting."""
        if self.validator is None:
            return ("TWILIO_AUTH_TOKEN is not set, so Twilio's signature cannot be checked: "
                    "refusing phone calls (set it to the Twilio account's auth token)")
        return ("TOUCHLINE_VOICE_PUBLIC_URL is not set: refusing phone calls (set it to the "
                "public https:// URL Twilio reaches this server at)")

    def _signed(self, request: Request, validator: RequestValidator, public_url: str) -> bool:
        """Whether the request's ``X-Twilio-Signature`` is valid for the public URL."""
        params = {k: v[0] for k, v in request.form.items()}
        url = public_url + request.path + (f"?{request.query_string}"
                                           if request.query_string else "")
        return validator.validate(url, params, request.headers.get(SIGNATURE_HEADER, ""))

    def twiml(self, call_sid: str, caller: str | None, stream_url: str) -> str:
        """The TwiML that connects ``call_sid`` to the Media Streams WebSocket."""
        stream = Stream(url=stream_url)
        stream.parameter(name="token", value=self.call_token(call_sid, caller))
        if caller:
            stream.parameter(name="from", value=caller)
        connect = Connect()
        connect.append(stream)
        answer = VoiceResponse()
        answer.append(connect)
        return str(answer)

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        """Routes: ``GET /``, ``POST /twiml``, WebSocket ``/stream``, ``POST /utterance``."""
        hook = Blueprint("touchline_voice", __name__)
        self.calls.speak_with(speak_on_live_call)  # the calls whose stream this process holds

        @hook.listener("after_server_start")
        async def load(_app: Sanic, _loop: asyncio.AbstractEventLoop) -> None:
            if self.on_demand:
                logger.info("voice: speech engines load at the first call "
                            "(TOUCHLINE_VOICE_ON_DEMAND)")
                return
            try:
                engines = await self.engines()
                logger.info("voice: %s recognizer, %s synthesizer", engines.recognizer.name,
                            engines.synthesizer.name)
            except Exception as exc:
                logger.error("voice channel unavailable: %s: %s", type(exc).__name__, exc)
                return
            agent = getattr(_app.ctx, "agent", None)
            if self.settings.speculative and agent is not None:
                openers = [*response_openers(agent), *SPOKEN_OPENINGS, *SEARCH_OPENINGS]
                for text in openers:  # one at a time, so calls arriving now are not held up
                    await asyncio.to_thread(engines.synthesizer.prepare, text, True)
                logger.info("voice: prepared %d reply openings", len(openers))

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            try:
                engines = await self.engines()
            except Exception as exc:
                return response.json({"status": "unavailable", "error": str(exc)}, status=503)
            return response.json({"status": "ok", "asr": engines.recognizer.name,
                                  "tts": engines.synthesizer.name})

        @hook.route("/twiml", methods=["POST"])
        async def twiml(request: Request) -> HTTPResponse:
            validator, public_url = self.validator, self.public_url
            if validator is None or public_url is None:
                logger.error("voice: %s", self._refusal())
                return _error(503, "phone calls are not configured on this server")
            if not self._signed(request, validator, public_url):
                return _error(403, "invalid X-Twilio-Signature")
            call_sid = request.form.get("CallSid")
            if not call_sid:
                return _error(400, "CallSid is required")
            xml = self.twiml(call_sid, request.form.get("From"),
                             self._stream_url(public_url))
            return response.text(xml, content_type="text/xml")

        @hook.websocket("/stream")
        async def stream(request: Request, ws: Any) -> None:  # noqa: ANN401 - sanic socket
            try:
                engines = await self.engines()
            except Exception:
                await ws.close(code=1011, reason="speech engines unavailable")
                return
            agent = getattr(request.app.ctx, "agent", None)
            speculator = Speculator(agent, CHANNEL) if agent is not None else None
            call = TwilioCall(ws.send, engines, on_new_message, self.settings, self._token_ok,
                              speculator.predict if speculator is not None else None,
                              speculator.rehearse if speculator is not None else None)
            how = "stream stopped"
            try:
                while await call.handle(await ws.recv()):
                    pass
            except (ConnectionClosed, WebsocketClosed, asyncio.CancelledError):
                how = "socket closed"  # Sanic cancels the handler when the caller closes
            finally:
                logger.info("call %s ended: %s", call.call_sid, how)
                await asyncio.shield(call.close())
            if call.closed_reason:
                await ws.close(code=1008, reason=call.closed_reason[:120])

        @hook.route("/utterance", methods=["POST"])
        async def utterance(request: Request) -> HTTPResponse:
            return await self._utterance(request, on_new_message)

        return hook

    async def _utterance(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        fmt = request.args.get("reply_format", "wav")
        if fmt not in MIMES:
            return _error(400, "reply_format must be wav or ogg")
        session_id, token = request.args.get("session_id"), request.args.get("token")
        resumed = session_id is not None or token is not None
        customer = None
        if not resumed:
            session_id, token = self.signer.issue()
        elif not self.signer.verify(session_id, token):
            try:  # a signed-in widget session sends its resume token
                identity = self.signer.resumed_identity(token)
            except IdentityError:
                return _error(401, "session_id and token do not match")
            if identity.conversation_id != session_id:
                return _error(401, "session_id and token do not match")
            customer = identity.customer_id
        body = request.body or b""
        if len(body) > MAX_UPLOAD_BYTES:
            return _error(413, f"audio must be at most {MAX_UPLOAD_BYTES} bytes")
        if not body:
            return _error(400, "the body must be the recorded audio")
        try:
            audio = await asyncio.to_thread(decode, body)
        except AudioError as exc:
            status = 413 if "longer" in str(exc) else 415
            return _error(status, str(exc))
        try:
            engines = await self.engines()
        except Exception as exc:
            return _error(503, f"speech engines unavailable: {exc}")
        reply = await answer_speech(engines, on_new_message, audio, session_id, CHANNEL,
                                    stamp({"voice": {"source": "utterance"}}, customer))
        spoken = await speak_all(engines, reply.text)
        audio_out = None
        if spoken is not None:
            data = await asyncio.to_thread(encode, spoken, fmt)
            audio_out = {"format": fmt, "mime": MIMES[fmt],
                         "base64": base64.b64encode(data).decode()}
        if resumed and reply.transcript:
            await self.feed.publish(SharedTurn(session_id, reply.transcript, reply.messages,
                                               request.args.get("sid")))
        messages = [{k: v for k, v in m.items() if k != "recipient_id"}
                    for m in reply.messages]
        return response.json({"session_id": session_id, "token": token,
                              "transcript": reply.transcript, "messages": messages,
                              "reply_text": reply.text, "audio": audio_out})
