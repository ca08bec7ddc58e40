"""A simulated Twilio Media Streams client: the far end of ``/webhooks/voice/stream``.

It speaks Twilio's JSON protocol over a real WebSocket (``connected``, ``start``, ``media``
with base64 8 kHz µ-law in 20 ms frames, ``mark`` echoes, ``stop``) and records what the
gateway sends back, with arrival times.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import websockets

from bot.speech.audio import TELEPHONE_RATE, Audio, mulaw_decode, mulaw_encode, silence


@dataclass
class Received:
    """One message from the gateway and when it arrived (``time.perf_counter()``)."""

    at: float
    message: dict[str, Any]


@dataclass
class TwilioCaller:
    """One simulated call.

    Attributes:
        url: the gateway's ``ws://.../webhooks/voice/stream``.
        call_sid, token: the call SID and the stream token from the TwiML answer.
        caller_id: the ``from`` parameter (the caller's number, as the TwiML passes it).
        echo_marks: answer each ``mark`` at once, as if playback were instant; ``False``
            leaves the bot "talking" until its audio's duration has passed.
        realtime: pace frames at 20 ms like a phone line.
    """

    url: str
    call_sid: str
    token: str
    echo_marks: bool = True
    caller_id: str = "+15550100"
    sample_rate: int = TELEPHONE_RATE
    line: bool = True
    """Stream line silence between utterances, every 20 ms, as a phone line does."""
    received: list[Received] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    _ws: Any = None
    _reader: asyncio.Task | None = None
    _pump: asyncio.Task | None = None
    _queue: list[tuple[bytes, asyncio.Future]] = field(default_factory=list)

    async def __aenter__(self) -> TwilioCaller:
        self._ws = await websockets.connect(self.url, max_size=None)
        self._reader = asyncio.create_task(self._read())
        await self.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self.send({"event": "start", "streamSid": f"MZ{self.call_sid}", "start": {
            "accountSid": "ACtest", "callSid": self.call_sid, "streamSid": f"MZ{self.call_sid}",
            "tracks": ["inbound"], "customParameters": {"token": self.token,
                                                         "from": self.caller_id},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": self.sample_rate,
                            "channels": 1}}})
        if self.line:
            self._pump = asyncio.create_task(self._run_line())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._pump is not None:
            self._pump.cancel()
        await self._ws.close()
        if self._reader is not None:
            await asyncio.wait([self._reader], timeout=5)

    async def send(self, message: dict[str, Any] | str) -> None:
        """Send one message (a dict is JSON-encoded; a string goes as is)."""
        await self._ws.send(message if isinstance(message, str) else json.dumps(message))

    async def say(self, audio: Audio) -> float:
        """Speak ``audio`` on the line; return when its last frame was sent
        (``time.perf_counter()``), i.e. the end of the caller's speech."""
        done = asyncio.get_running_loop().create_future()
        self._queue.append((mulaw_encode(audio, self.sample_rate), done))
        return await done

    async def pause(self, seconds: float) -> float:
        """Wait ``seconds`` while the line carries silence."""
        return await self.say(silence(seconds, self.sample_rate))

    def _media(self, n: int, payload: bytes) -> dict[str, Any]:
        return {"event": "media", "streamSid": f"MZ{self.call_sid}", "media": {
            "track": "inbound", "chunk": str(n), "timestamp": str(n * 20),
            "payload": base64.b64encode(payload).decode()}}

    async def _run_line(self) -> None:
        """Send one 20 ms frame every 20 ms: queued speech, else µ-law silence (0xFF)."""
        frame = self.sample_rate // 50
        start, n, offset = time.perf_counter(), 0, 0
        try:
            while not self.closed.is_set():
                if self._queue:
                    payload, done = self._queue[0]
                    chunk = payload[offset:offset + frame]
                    offset += frame
                    if offset >= len(payload):
                        self._queue.pop(0)
                        offset = 0
                else:
                    chunk, done = b"\xff" * frame, None
                await self.send(self._media(n, chunk))
                if done is not None and offset == 0 and not done.done():
                    done.set_result(time.perf_counter())
                n += 1
                await asyncio.sleep(max(0.0, start + n * 0.02 - time.perf_counter()))
        except websockets.ConnectionClosed:
            pass
        finally:
            for _, done in self._queue:
                if not done.done():
                    done.set_result(time.perf_counter())

    async def hang_up(self) -> None:
        """Send Twilio's ``stop`` message (nothing when the gateway has ended the call)."""
        try:
            await self.send({"event": "stop", "streamSid": f"MZ{self.call_sid}",
                             "stop": {"accountSid": "ACtest", "callSid": self.call_sid}})
        except websockets.ConnectionClosed:
            pass

    def events(self, name: str, after: float = 0.0) -> list[Received]:
        """Received messages with ``event == name`` that arrived after ``after``."""
        return [r for r in self.received if r.message.get("event") == name and r.at > after]

    def audio(self, after: float = 0.0, before: float = float("inf")) -> Audio:
        """The bot's audio received in that time span, decoded."""
        data = b"".join(base64.b64decode(r.message["media"]["payload"])
                        for r in self.events("media", after) if r.at < before)
        return mulaw_decode(data, self.sample_rate)

    async def wait_for(self, name: str, after: float = 0.0, timeout: float = 30.0) -> Received:
        """The first ``name`` message after ``after`` (waits up to ``timeout`` seconds)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            found = self.events(name, after)
            if found:
                return found[0]
            if self.closed.is_set():
                break
            await asyncio.sleep(0.01)
        raise AssertionError(f"no {name!r} after {after}; got "
                             f"{sorted({r.message.get('event') for r in self.received})}")

    async def wait_quiet(self, gap: float = 0.5, timeout: float = 60.0) -> float:
        """Wait until nothing arrived for ``gap`` seconds, counted from this call at the
        earliest; return the last arrival time (this call's start if none)."""
        called = time.perf_counter()
        deadline = called + timeout
        while time.perf_counter() < deadline:
            last = max(self.received[-1].at if self.received else 0.0, called)
            if time.perf_counter() - last >= gap:
                return last
            await asyncio.sleep(0.05)
        raise AssertionError("the gateway kept sending")

    async def wait_marks(self, count: int, after: float = 0.0, timeout: float = 60.0) -> Received:
        """The ``count``-th ``mark`` after ``after`` (the gateway sends one per sentence)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            marks = self.events("mark", after)
            if len(marks) >= count:
                return marks[count - 1]
            if self.closed.is_set():
                break
            await asyncio.sleep(0.01)
        raise AssertionError(f"{len(self.events('mark', after))} of {count} marks after {after}")

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                message = json.loads(raw)
                self.received.append(Received(time.perf_counter(), message))
                if message.get("event") == "mark" and self.echo_marks:
                    await self.send({"event": "mark", "streamSid": f"MZ{self.call_sid}",
                                     "mark": message["mark"]})
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()
