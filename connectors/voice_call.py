"""One phone call over a Twilio Media Streams WebSocket.

Twilio sends JSON text messages (https://www.twilio.com/docs/voice/media-streams/websocket-messages):
``connected``, ``start`` (stream and call ids, custom parameters, media format), ``media``
(base64 8 kHz µ-law, 20 ms per message), ``mark`` (a mark we sent has been played),
``dtmf`` and ``stop``.  We answer with ``media`` (the bot's voice), ``mark`` (to learn when
playback reached a point) and ``clear`` (drop audio not yet played: barge-in).

Behaviour of a call:

* after ``start`` the bot greets the caller (a ``/greet`` turn in Rasa);
* Silero VAD finds the end of each caller utterance (:class:`bot.speech.vad.Endpointer`);
  the transcript is one Rasa turn, the reply is streamed back sentence by sentence;
* with the ``speculative`` pipeline (``$TOUCHLINE_VOICE_PIPELINE``, the default), each pause
  of the caller starts a speculative turn (:mod:`connectors.voice_speculation`): the early
  transcript (an early, lower-priority recogniser job) goes through NLU and the policies
  without side effects; when it reads as a complete request the end of turn comes after
  :data:`ADAPTIVE` ``complete_silence_s`` instead of ``end_silence_s`` (mid-phrase), and the
  reply's opening is synthesised ahead (a response's from the domain, a read-only custom
  action's once the action server has rehearsed it).  When the caller stays quiet the
  speculative turn is committed (Rasa gets its parse, runs the action, the reply starts from
  the prepared audio); when they talk again it is discarded and nothing of it remains.  The
  ``sequential`` pipeline is the former path: a fixed 0.35 s end of turn, then the turn;
* caller speech while the bot talks sends ``clear`` and stops the reply (barge-in);
* :attr:`CallSettings.silence_s` of silence re-prompts once; the same again says goodbye
  and ends the call (closing the stream ends ``<Connect>``; the TwiML hangs up);
* a hang-up (``stop`` or a closed socket) mid-reply stops the reply; the Rasa turn that
  produced it is already recorded;
* a call from a number a customer registered (:mod:`bot.identity.phone`) is offered the
  PIN check after the greeting: the caller keys the PIN and ``#`` on the keypad (``dtmf``
  events of the bidirectional stream); a matching PIN makes every later turn that
  customer's (the verified customer in the metadata), three wrong ones end the offer.
  Caller ID can be spoofed, so the number alone identifies nobody; every other call is
  anonymous.  The digits are never logged nor sent to Rasa;
* while the call is live it is listed in :data:`LIVE_CALLS` (of this process), so an agent's
  message sent into the conversation from the agent inbox is spoken on it
  (:meth:`TwilioCall.announce`, after whatever the bot is still saying), also when the
  request reached another Rasa process (:mod:`connectors.voice_output`);
* malformed messages (not JSON, unknown events, bad base64, media before ``start``) are
  counted and ignored; an unsupported media format or a bad stream token closes the
  stream with a reason.

Time inside a call is media time: the seconds of caller audio received, which Twilio
streams in real time, so silence timers do not depend on server load.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import soxr
from rasa.core.channels.channel import UserMessage
from sanic.exceptions import WebsocketClosed
from websockets.exceptions import ConnectionClosed

from bot.dialogue.turn import ConversationId, run_turn
from bot.identity.metadata import stamp
from bot.identity.phone import asks_for_pin, customer_of_call
from bot.speech.asr import Transcript
from bot.speech.audio import ASR_RATE, Audio, mulaw_decode, mulaw_encode
from bot.speech.engines import SpeechEngines
from bot.speech.spoken import spoken_text
from bot.speech.turn_end import complete_request
from bot.speech.vad import Endpointer, EndpointSettings
from connectors.voice_speculation import Speculation
from connectors.voice_turn import answer_speech, speak
from connectors.wording import GOODBYE, PIN_GIVE_UP, PIN_OK, PIN_PROMPT, PIN_WRONG, REPROMPT

logger = logging.getLogger(__name__)

CHANNEL = "voice"
FRAME_MS = 20
"""Milliseconds of audio per ``media`` message we send (Twilio's own framing)."""
SUPPORTED_RATES = range(8000, 48001)
"""Hz: declared sample rates accepted in ``start.mediaFormat`` (resampled to 16 kHz)."""
PLAYBACK_SLACK_S = 2.0
"""Seconds after a reply's expected end at which it counts as played without a mark."""
MAX_MALFORMED_LOGGED = 5
TURN_FINISH_S = 15.0
"""Seconds a turn in progress at hang-up may take to finish (its reply is not sent)."""
PIN_TRIES = 3
"""Wrong PINs a call may key before the offer ends (the number's hourly limit applies too,
``$TOUCHLINE_LOOKUP_ATTEMPTS``)."""
MAX_PIN_DIGITS = 8
DTMF_KEYS = frozenset("0123456789*#")

ADAPTIVE = EndpointSettings(end_silence_s=0.75, complete_silence_s=0.35, pause_s=0.096)
"""End of turn of the ``speculative`` pipeline: the early transcript starts after 0.096 s
of silence (three VAD windows; 0.128 s in the ``sequential`` pipeline): the 34 benchmark
questions, rendered twice by Piper, had 1.25 pauses each against 1.24 at 0.128 s (1.35 at
0.064 s), so it starts 32 ms sooner for almost no extra transcriptions. The turn ends
after 0.35 s of silence after a complete request
(the early transcript ends a sentence, or ends with a word and NLU understood it:
:func:`bot.speech.turn_end.complete_request`), 0.75 s mid-phrase ("my order number
is ...").  The ``sequential`` pipeline keeps 0.35 s for every utterance, so no turn ends
sooner than there.  A shorter window (0.2 s) cut callers off at commas: the early
transcript of "Hi there, I need some help" paused at the comma reads "Hi there." and is a
complete greeting; only the silence's length tells."""

T = TypeVar("T")
Send = Callable[[str], Awaitable[None]]
Speculate = Callable[[str, Transcript, dict[str, Any]], Awaitable[Speculation | None]]
"""``(sender_id, early transcript, metadata)`` -> what Rasa would do, without side effects."""
Rehearse = Callable[[Speculation], Awaitable[str]]
"""A speculation whose action only reads -> that action's reply, rehearsed without side
effects (:meth:`connectors.voice_speculation.Speculator.rehearse`)."""


LIVE_CALLS: dict[str, TwilioCall] = {}
"""The calls whose stream this process holds, by Rasa conversation id (``voice:<sid>``)."""


class CallEnded(Exception):
    """The call is over (hang-up, ``stop``, or the socket closed)."""


@dataclass(frozen=True)
class CallSettings:
    """Timing of a call.

    Attributes:
        silence_s: seconds of caller silence (after the bot finished talking) before a
            re-prompt; the same again after it ends the call.
        greet: whether the bot speaks first.
        endpoint: voice-activity and end-of-utterance settings.
        speculative: run speculative turns while the caller pauses (the ``speculative``
            pipeline; ``False``: the ``sequential`` one).
    """

    silence_s: float = 8.0
    greet: bool = True
    endpoint: EndpointSettings = field(default_factory=EndpointSettings)
    speculative: bool = False

    @classmethod
    def for_pipeline(cls, pipeline: str, silence_s: float) -> CallSettings:
        """The settings of ``$TOUCHLINE_VOICE_PIPELINE``'s ``pipeline``.

        Args:
            pipeline: ``"speculative"`` (adaptive end of turn, :data:`ADAPTIVE`) or
                ``"sequential"`` (fixed end of turn).
            silence_s: see :attr:`silence_s`.
        """
        if pipeline == "speculative":
            return cls(silence_s=silence_s, endpoint=ADAPTIVE, speculative=True)
        return cls(silence_s=silence_s)


@dataclass(frozen=True)
class _Turn:
    """Queued work: a typed payload (``text``) or an utterance with its early transcript."""

    text: str | None = None
    audio: Audio | None = None
    guess: asyncio.Task[Transcript | None] | None = None
    early: _Early | None = None
    also: str = ""
    """Said after the reply (the PIN offer after the greeting)."""


@dataclass
class _Early:
    """The work started at one pause of the caller (speculative pipeline)."""

    transcript: asyncio.Task[Transcript | None] | None = None
    speculation: asyncio.Task[Speculation | None] | None = None
    discarded: bool = False


@dataclass
class _Playback:
    name: str
    ends_at: float  # media seconds


async def _outcome(task: asyncio.Task[T] | None) -> T | None:
    """``task``'s result; ``None`` for no task or one that failed (logged)."""
    if task is None:
        return None
    try:
        return await task
    except Exception:
        logger.exception("early work of a call failed")
        return None


class TwilioCall:
    """The state of one Media Streams connection.

    Args:
        send: coroutine sending one text message on the WebSocket.
        engines: speech engines.
        on_new_message: Rasa's callback for user messages.
        settings: timing.
        token_ok: checks the ``token`` custom parameter against the call SID and the
            ``from`` parameter (the caller's number, ``None`` when absent).
    """

    def __init__(
        self,
        send: Send,
        engines: SpeechEngines,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        settings: CallSettings,
        token_ok: Callable[[str, str | None, str], bool],
        speculate: Speculate | None = None,
        rehearse: Rehearse | None = None,
    ) -> None:
        self._send_raw = send
        self.speculate = speculate if settings.speculative else None
        self.rehearse = rehearse if settings.speculative else None
        self.engines = engines
        self.on_new_message = on_new_message
        self.settings = settings
        self.token_ok = token_ok
        self.stream_sid: str | None = None
        self.call_sid: str | None = None
        self.caller: str | None = None
        self.customer_id: int | None = None
        """The customer the call is verified as (registered number and PIN), else ``None``."""
        self._pin_tries: int | None = None
        """Wrong PINs left before the offer ends; ``None``: no PIN is being asked for."""
        self._keyed = ""
        self.malformed = 0
        self.closed_reason: str | None = None
        self._endpointer = Endpointer(settings.endpoint)
        self._resampler: soxr.ResampleStream | None = None
        self._rate = 8000
        self._utterances: asyncio.Queue[_Turn | None] = asyncio.Queue()
        self._guess: asyncio.Task[Transcript | None] | None = None
        self._early: _Early | None = None
        self._preparing: set[asyncio.Task] = set()
        self._worker: asyncio.Task | None = None
        self._speaking: asyncio.Task | None = None
        self._playing: list[_Playback] = []
        self._marks = 0
        self._busy = False
        self._quiet_since: float | None = None
        self._reprompted = False
        self._ending = False
        self._closed = False

    @property
    def sender_id(self) -> str:
        """The Rasa conversation id of this call."""
        return str(ConversationId.phone_call(self.call_sid))

    @property
    def now(self) -> float:
        """Media time: seconds of caller audio received."""
        return self._endpointer.heard_s

    async def handle(self, raw: object) -> bool:
        """Process one WebSocket message; ``False`` when the call is over."""
        try:
            message = json.loads(raw) if isinstance(raw, str | bytes) else None
        except (ValueError, UnicodeDecodeError):
            message = None
        if not isinstance(message, dict):
            return self._malformed("not a JSON object")
        event = message.get("event")
        if event == "start":
            return await self._start(message)
        if event == "media":
            return await self._media(message)
        if event == "mark":
            name = (message.get("mark") or {}).get("name") if isinstance(
                message.get("mark"), dict) else None
            self._playing = [p for p in self._playing if p.name != name]
            self._played()
            return True
        if event == "stop":
            logger.info("call %s: caller hung up", self.call_sid)
            return False
        if event == "dtmf":
            return await self._dtmf(message)
        if event == "connected":
            return True
        return self._malformed(f"unknown event {event!r}")

    async def close(self) -> None:
        """The call is over: stop speaking; a Rasa turn in progress may finish (up to
        :data:`TURN_FINISH_S` seconds) so the caller's last message is not lost."""
        self._closed = True
        if self.call_sid is not None and LIVE_CALLS.get(self.sender_id) is self:
            del LIVE_CALLS[self.sender_id]
        if self._speaking is not None:
            self._speaking.cancel()
        if self._worker is not None:
            self._utterances.put_nowait(None)
            try:
                await asyncio.wait_for(self._worker, TURN_FINISH_S)
            except (asyncio.TimeoutError, asyncio.CancelledError, CallEnded):
                logger.warning("call %s: turn still running at hang-up", self.call_sid)

    def _malformed(self, why: str) -> bool:
        self.malformed += 1
        if self.malformed <= MAX_MALFORMED_LOGGED:
            logger.warning("call %s: ignored a malformed message (%s)", self.call_sid, why)
        return True

    async def _start(self, message: dict[str, Any]) -> bool:
        start = message.get("start")
        if self.stream_sid is not None or not isinstance(start, dict):
            return self._malformed("bad or repeated start")
        call_sid, stream_sid = start.get("callSid"), start.get("streamSid")
        params = start.get("customParameters") or {}
        if not isinstance(call_sid, str) or not call_sid or not isinstance(stream_sid, str):
            self.closed_reason = "start without callSid/streamSid"
            return False
        caller = str(params.get("from") or "") or None if isinstance(params, dict) else None
        if not isinstance(params, dict) or not self.token_ok(call_sid, caller,
                                                             str(params.get("token"))):
            self.closed_reason = "bad stream token"
            logger.warning("call %s: stream token rejected", call_sid)
            return False
        fmt = start.get("mediaFormat") or {}
        encoding, rate = fmt.get("encoding"), fmt.get("sampleRate")
        if (encoding != "audio/x-mulaw" or fmt.get("channels", 1) != 1
                or not isinstance(rate, int) or rate not in SUPPORTED_RATES):
            self.closed_reason = f"unsupported media format {fmt!r}"
            logger.warning("call %s: %s", call_sid, self.closed_reason)
            return False
        self.call_sid, self.stream_sid = call_sid, stream_sid
        self.caller = caller
        self._rate = rate
        self._resampler = soxr.ResampleStream(rate, ASR_RATE, 1, dtype="float32")
        self._worker = asyncio.create_task(self._work())
        LIVE_CALLS[self.sender_id] = self
        logger.info("call %s started (stream %s)", call_sid, stream_sid)
        offer = await asyncio.to_thread(asks_for_pin, self.caller)
        if offer:
            self._pin_tries = PIN_TRIES
        if self.settings.greet:
            self._utterances.put_nowait(_Turn(text="/greet", also=PIN_PROMPT if offer else ""))
        elif offer:
            self._say(PIN_PROMPT)
        return True

    async def _dtmf(self, message: dict[str, Any]) -> bool:
        """A key the caller pressed: collect PIN digits while a PIN is asked for; ``#``
        checks them (in a worker thread)."""
        dtmf = message.get("dtmf")
        digit = dtmf.get("digit") if isinstance(dtmf, dict) else None
        if not (isinstance(digit, str) and digit in DTMF_KEYS):
            return self._malformed("bad dtmf")
        if self._pin_tries is None or self.caller is None:
            return True
        if digit == "*":
            self._keyed = ""
        elif digit != "#":
            self._keyed = (self._keyed + digit)[:MAX_PIN_DIGITS + 1]
        else:
            pin, self._keyed = self._keyed, ""
            customer = await asyncio.to_thread(customer_of_call, self.caller, pin)
            if customer is not None:
                self.customer_id, self._pin_tries = customer, None
                logger.info("call %s: caller verified by PIN", self.call_sid)
                self._say(PIN_OK)
                return True
            self._pin_tries -= 1
            logger.info("call %s: wrong PIN (%d tries left)", self.call_sid, self._pin_tries)
            if self._pin_tries <= 0:
                self._pin_tries = None
            self._say(PIN_WRONG if self._pin_tries else PIN_GIVE_UP)
        return True

    async def _media(self, message: dict[str, Any]) -> bool:
        media = message.get("media")
        if self._resampler is None or not isinstance(media, dict):
            return self._malformed("media before start or without payload")
        if media.get("track", "inbound") != "inbound":
            return True
        try:
            payload = base64.b64decode(str(media.get("payload", "")), validate=True)
        except (binascii.Error, ValueError):
            return self._malformed("payload is not base64")
        samples = self._resampler.resample_chunk(mulaw_decode(payload, self._rate).samples)
        for kind, audio in self._endpointer.feed(samples):
            if kind == "speech":
                self._reprompted = False
                await self._barge_in()
            elif kind == "pause" and audio is not None and self.speculate is not None:
                self._early = self._speculate(audio)
            elif kind == "pause" and audio is not None:
                # Transcribe what was said so far; if the caller stays quiet this is the
                # utterance's transcript, ready before the end-of-speech timeout.
                self._guess = asyncio.ensure_future(
                    asyncio.to_thread(self.engines.recognizer.transcribe, audio))
            elif kind == "resume":
                self._guess = None
                self._discard()
            elif kind == "utterance" and audio is not None:
                self._utterances.put_nowait(_Turn(audio=audio, guess=self._guess,
                                                  early=self._early))
                self._guess, self._early = None, None
        self._played()
        return await self._check_silence()

    def _speculate(self, audio: Audio) -> _Early:
        """Start the early transcript of a pause and the speculative turn on it."""
        early = _Early()
        early.transcript = asyncio.ensure_future(asyncio.to_thread(
            self.engines.recognizer.transcribe_early, audio, lambda: not early.discarded))
        early.speculation = asyncio.ensure_future(self._predict(early))
        return early

    async def _predict(self, early: _Early) -> Speculation | None:
        """Run the early transcript through Rasa without side effects; on a complete
        request (punctuated: at once; unpunctuated: once NLU understood it), shorten the end
        of turn and synthesise the opening of the reply: a response's at once, a read-only
        custom action's once it is rehearsed (in the background: committing the turn does
        not wait for it)."""
        assert early.transcript is not None and self.speculate is not None
        transcript = await early.transcript
        if transcript is None or early.discarded or not transcript.text:
            return None
        punctuated = complete_request(transcript.text)
        if punctuated:
            self._endpointer.words_complete()
        guess = await self.speculate(self.sender_id, transcript, self._metadata())
        if guess is None or early.discarded:
            return None
        complete = punctuated or complete_request(transcript.text, guess.understood)
        if complete and not punctuated:
            self._endpointer.words_complete()
        if complete and guess.reply:
            self._prepare(asyncio.to_thread(self.engines.synthesizer.prepare, guess.reply))
        elif complete and guess.rehearsable and self.rehearse is not None:
            self._prepare(self._rehearsed(guess, early))
        return guess

    async def _rehearsed(self, guess: Speculation, early: _Early) -> None:
        """Rehearse ``guess``'s read-only action and synthesise its reply's opening."""
        assert self.rehearse is not None
        reply = await self.rehearse(guess)
        logger.info("call %s: rehearsed %s", self.call_sid, guess.action)
        if reply and not early.discarded:
            await asyncio.to_thread(self.engines.synthesizer.prepare, reply)

    def _prepare(self, work: Awaitable[None]) -> None:
        """Run ``work`` (preparing a reply's opening) in the background."""
        prepare = asyncio.ensure_future(work)
        self._preparing.add(prepare)
        prepare.add_done_callback(self._prepared)

    def _prepared(self, task: asyncio.Task) -> None:
        self._preparing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("call %s: could not prepare the reply's opening: %s",
                           self.call_sid, task.exception())

    def _discard(self) -> None:
        """The caller talks again: drop the pause's speculative turn."""
        early, self._early = self._early, None
        if early is None:
            return
        early.discarded = True
        if early.speculation is not None:
            early.speculation.cancel()
        logger.info("call %s: caller resumed; speculative turn discarded", self.call_sid)

    async def _barge_in(self) -> None:
        if (self._speaking is not None and not self._speaking.done()) or self._playing:
            logger.info("call %s: caller spoke over the bot; clearing", self.call_sid)
            if self._speaking is not None:
                self._speaking.cancel()
            self._playing.clear()
            await self._send({"event": "clear", "streamSid": self.stream_sid})

    def _played(self) -> None:
        self._playing = [p for p in self._playing if p.ends_at > self.now]

    def _idle(self) -> bool:
        speaking = self._speaking is not None and not self._speaking.done()
        return not (self._busy or speaking or self._playing or self._endpointer.talking
                    or not self._utterances.empty())

    async def _check_silence(self) -> bool:
        if not self._idle():
            self._quiet_since = None
            return True
        if self._ending:
            return False
        if self._quiet_since is None:
            self._quiet_since = self.now
        elif self.now - self._quiet_since >= self.settings.silence_s:
            self._quiet_since = None
            if self._reprompted:
                self._ending = True
                logger.info("call %s: silent twice; ending the call", self.call_sid)
                self._say(GOODBYE)
            else:
                self._reprompted = True
                self._say(REPROMPT)
        return True

    def _say(self, text: str) -> None:
        """Start speaking ``text``, in place of whatever the bot was still saying."""
        if self._speaking is not None and not self._speaking.done():
            self._speaking.cancel()
        self._speaking = asyncio.create_task(self._stream(text))

    def announce(self, text: str) -> None:
        """Speak ``text`` (an agent's message) once the bot has finished what it is saying
        now; the caller can speak over it as over any reply (barge-in)."""
        if self._closed or self._ending:
            return
        before = self._speaking
        self._speaking = asyncio.create_task(self._after(before, text))

    async def _after(self, before: asyncio.Task | None, text: str) -> None:
        """Wait for ``before`` (the bot's reply being sent), then speak ``text``; cancelling
        this (barge-in, hang-up) cancels ``before`` too."""
        if before is not None and not before.done():
            try:
                await asyncio.wait({before})
            except asyncio.CancelledError:
                before.cancel()
                raise
        await self._stream(text)

    async def _work(self) -> None:
        while (item := await self._utterances.get()) is not None:
            self._busy = True
            try:
                if item.audio is None:
                    messages = await run_turn(self.on_new_message, str(item.text),
                                              self.sender_id, CHANNEL, self._metadata())
                    text = " ".join(filter(None, (spoken_text(messages), item.also)))
                elif item.early is not None:
                    text = await self._commit(item.audio, item.early)
                else:
                    started = time.perf_counter()
                    heard = await item.guess if item.guess is not None else None
                    reply = await answer_speech(self.engines, self.on_new_message, item.audio,
                                                self.sender_id, CHANNEL, self._metadata(),
                                                heard)
                    text = reply.text
                    logger.info("call %s heard %r; answered in %.0f ms", self.call_sid,
                                reply.transcript, 1000 * (time.perf_counter() - started))
                if self._closed:
                    return
                self._say(text)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("call %s: turn failed", self.call_sid)
            finally:
                self._busy = False

    async def _commit(self, audio: Audio, early: _Early) -> str:
        """The caller stayed quiet after the pause: commit its speculative turn (Rasa gets
        the speculative parse and runs the action now); without one, answer the early
        transcript (or a fresh one) as the sequential pipeline does.  Returns the reply."""
        started = time.perf_counter()
        guess = await _outcome(early.speculation)
        heard = guess.transcript if guess is not None else await _outcome(early.transcript)
        metadata = self._metadata()
        if guess is not None:
            metadata["voice"]["speculative"] = {"intent": guess.intent,
                                                "action": guess.action}
        reply = await answer_speech(self.engines, self.on_new_message, audio, self.sender_id,
                                    CHANNEL, metadata, heard,
                                    guess.parse_data if guess is not None else None)
        logger.info("call %s heard %r; %s; answered in %.0f ms", self.call_sid,
                    reply.transcript,
                    f"committed the speculative turn ({guess.intent} -> {guess.action})"
                    if guess is not None else "no speculative turn",
                    1000 * (time.perf_counter() - started))
        return reply.text

    def _metadata(self) -> dict[str, Any]:
        return stamp({"voice": {"call_sid": self.call_sid, "from": self.caller}},
                     self.customer_id)

    async def _stream(self, text: str) -> None:
        """Send ``text`` as µ-law media, a sentence at a time, each followed by a mark."""
        frame = self._rate * FRAME_MS // 1000
        try:
            async for piece in speak(self.engines, text):
                payload = mulaw_encode(piece, self._rate)
                for i in range(0, len(payload), frame):
                    chunk = base64.b64encode(payload[i:i + frame]).decode()
                    await self._send({"event": "media", "streamSid": self.stream_sid,
                                      "media": {"payload": chunk}})
                self._marks += 1
                name = f"reply-{self._marks}"
                start = max([self.now, *(p.ends_at for p in self._playing)])
                self._playing.append(_Playback(name, start + len(payload) / self._rate
                                               + PLAYBACK_SLACK_S))
                await self._send({"event": "mark", "streamSid": self.stream_sid,
                                  "mark": {"name": name}})
        except CallEnded:
            return

    async def _send(self, message: dict[str, Any]) -> None:
        try:
            await self._send_raw(json.dumps(message))
        except (ConnectionClosed, WebsocketClosed) as exc:
            raise CallEnded from exc
