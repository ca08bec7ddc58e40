"""A minimal Socket.IO v5 client speaking the widget's protocol (``connectors/socketio.py``),
for the tests and the benchmarks: :class:`Tab` over one WebSocket, :class:`PollingTab` over
Engine.IO long-polling (what the widget falls back to where WebSockets are blocked).

python-socketio's own client needs a newer aiohttp than Rasa pins, so this uses
``websockets`` and write the few Engine.IO / Socket.IO frames themselves: ``0`` open,
``2``/``3`` ping/pong, ``40`` connect, ``42[event, data]`` an event, ``42<id>[...]`` an
event that asks for an acknowledgement, ``43<id>[data]`` the acknowledgement and ``41`` a
disconnect by the server (recorded as a ``disconnect`` event).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from testing.stack import Stack

_ACK = re.compile(r"43(\d+)(.*)", re.S)


class Tab:
    """One widget tab: a socket joined to a session; it records the events it receives."""

    def __init__(self, ws: websockets.WebSocketClientProtocol) -> None:
        self.ws = ws
        self.events: list[tuple[str, dict]] = []
        self.acks: dict[int, Any] = {}
        self._next_ack = 0
        self._taken: dict[str, int] = {}

    @classmethod
    async def connect(cls, stack: Stack, route: str | None = None) -> Tab:
        """Connect to ``stack``'s widget channel (no session yet, see :meth:`join`);
        ``route`` is the ``tlroute`` argument a load balancer in front hashes (the widget
        sends a random one per page, see ``bot/runtime/cluster.py``)."""
        url = f"ws://127.0.0.1:{stack.rasa_port}/socket.io/?EIO=4&transport=websocket"
        if route is not None:
            url += f"&tlroute={route}"
        tab = cls(await websockets.connect(url, max_size=None))
        assert (await tab.ws.recv()).startswith("0")  # Engine.IO open
        await tab.ws.send("40")  # Socket.IO connect to "/"
        assert (await tab.ws.recv()).startswith("40")
        return tab

    async def join(self, session: dict | None) -> dict:
        """Send ``session_request``; returns the ``session_confirm`` data."""
        await self.emit("session_request", session or {})
        return await self.next("session_confirm")

    @classmethod
    async def open(cls, stack: Stack, session: dict | None) -> tuple[Tab, dict]:
        """Connect to ``stack``'s widget channel and send ``session_request``.

        Returns:
            The tab and its ``session_confirm`` data.
        """
        tab = await cls.connect(stack)
        return tab, await tab.join(session)

    @property
    def port(self) -> int:
        """Our end's TCP port (to find the worker holding the other end)."""
        return self.ws.transport.get_extra_info("sockname")[1]

    async def _send(self, packet: str) -> None:
        """Send one packet to the server."""
        await self.ws.send(packet)

    async def emit(self, event: str, data: dict) -> None:
        """Send an event without asking for an acknowledgement."""
        await self._send("42" + json.dumps([event, data]))

    async def request(self, event: str, data: dict) -> int:
        """Send an event asking for an acknowledgement; returns its id (see :meth:`ack`)."""
        self._next_ack += 1
        await self._send(f"42{self._next_ack}" + json.dumps([event, data]))
        return self._next_ack

    async def _read(self, deadline: float) -> None:
        """Read one frame (answering pings), recording events and acknowledgements."""
        frame = await asyncio.wait_for(self.ws.recv(), deadline - time.monotonic())
        if frame == "2":
            await self.ws.send("3")
        else:
            self._record(frame)

    def _record(self, packet: str) -> None:
        """Record a Socket.IO packet: an event, a disconnect by the server, or an
        acknowledgement (others are ignored)."""
        if packet.startswith("42"):
            event, data = json.loads(packet[2:])
            self.events.append((event, data))
        elif packet.startswith("41"):  # the server disconnected us from the namespace
            self.events.append(("disconnect", {}))
        elif match := _ACK.match(packet):
            args = json.loads(match.group(2))
            self.acks[int(match.group(1))] = args[0] if args else None

    async def next(self, wanted: str, timeout: float = 30) -> dict:
        """The first event ``wanted`` that ``next`` has not returned yet, read when needed
        (other events and acknowledgements are kept); ``asyncio.TimeoutError`` after
        ``timeout`` seconds in all."""
        deadline = time.monotonic() + timeout
        index = self._taken.get(wanted, 0)
        while True:
            found = [data for event, data in self.events if event == wanted]
            if len(found) > index:
                self._taken[wanted] = index + 1
                return found[index]
            await self._read(deadline)

    async def ack(self, ack_id: int, timeout: float = 30) -> Any:  # noqa: ANN401
        """Read until acknowledgement ``ack_id`` arrives; returns its data."""
        deadline = time.monotonic() + timeout
        while ack_id not in self.acks:
            await self._read(deadline)
        return self.acks[ack_id]

    async def pump(self) -> None:
        """Read frames (recording events and acknowledgements, answering pings) until the
        connection closes, for a tab whose events another task reads."""
        try:
            while True:
                await self._read(time.monotonic() + 24 * 3600)
        except (websockets.ConnectionClosed, OSError):
            return

    async def close(self) -> None:
        """Close the connection."""
        await self.ws.close()

    def count(self, event: str, **match: Any) -> int:  # noqa: ANN401
        """How many ``event`` events whose data has ``match``'s items were received."""
        return sum(1 for name, data in self.events
                   if name == event and all(data.get(k) == v for k, v in match.items()))


class PollingTab(Tab):
    """One widget tab over Engine.IO v4 long-polling: each ``GET`` returns the packets the
    server holds (``\\x1e``-separated, or waits for one), each ``POST`` sends a packet; a
    ping (``2``) read in a ``GET`` is answered with a ``POST`` of ``3``.  The same
    interface as :class:`Tab`; a closed session or a refused request raises
    ``httpx.HTTPError`` or ``ConnectionError``."""

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self.client = client
        self.url = url

    @classmethod
    async def connect(cls, stack: Stack, route: str | None = None) -> PollingTab:
        """Open an Engine.IO session on ``stack``'s widget channel and connect to the ``/``
        namespace (no widget session yet, see :meth:`join`); ``route`` as for
        :meth:`Tab.connect`.

        Raises:
            httpx.HTTPError: the handshake was refused.
        """
        base = f"http://127.0.0.1:{stack.rasa_port}/socket.io/?EIO=4&transport=polling"
        if route is not None:
            base += f"&tlroute={route}"
        client = httpx.AsyncClient(timeout=httpx.Timeout(10, read=60))
        try:
            opened = (await client.get(base)).raise_for_status().text
            sid = json.loads(opened[1:opened.index("}") + 1])["sid"]
            tab = cls(client, f"{base}&sid={sid}")
            await tab._send("40")
            while not any(e == "connected" for e, _ in tab.events):
                await tab._read(time.monotonic() + 30)
        except BaseException:
            await client.aclose()
            raise
        return tab

    async def _send(self, packet: str) -> None:
        """Send one packet to the server (a ``POST``)."""
        (await self.client.post(self.url, content=packet)).raise_for_status()

    async def close(self) -> None:
        """Close the HTTP client (the server ends the session after its ping timeout)."""
        await self.client.aclose()

    async def _read(self, deadline: float) -> None:
        """One long-poll ``GET`` (answering pings), recording events and acknowledgements;
        ``asyncio.TimeoutError`` past ``deadline``, ``ConnectionError`` when the server
        closed the session."""
        answer = await asyncio.wait_for(self.client.get(self.url), deadline - time.monotonic())
        answer.raise_for_status()
        for packet in answer.text.split("\x1e"):
            if packet == "2":
                await self._send("3")
            elif packet == "1":
                raise ConnectionError("the server closed the polling session")
            elif packet.startswith("40"):
                self.events.append(("connected", {}))
            else:
                self._record(packet)


@dataclass
class Turn:
    """One turn as a tab sees it: ``bot_typing`` true, the bot's messages, ``bot_typing``
    false, preceded by the ``user_echo`` of a message another tab sent."""

    echo: str | None
    """The echoed message's id (``""`` without one); ``None``: no echo, this tab sent it."""
    replies: list[str] = field(default_factory=list)
    """The texts of the bot messages (``""`` for a message without text)."""
    whole: bool = False
    """Whether the turn's end (``bot_typing`` false) arrived."""


def turns(events: Iterable[tuple[str, dict]]) -> tuple[list[Turn], list[str]]:
    """A tab's events read as whole turns, in the order they arrived.

    Args:
        events: ``(event, data)`` as :attr:`Tab.events` records them; events other than
            ``user_echo``, ``bot_typing`` and ``bot_uttered`` are skipped.

    Returns:
        The turns, and what broke the order: a turn starting inside another, a reply or a
        turn end outside a turn, an echo not followed by its turn.  Only the last turn may
        be cut (the connection closed inside it).
    """
    found: list[Turn] = []
    problems: list[str] = []
    echo: str | None = None
    current: Turn | None = None
    for event, data in events:
        if event == "user_echo" and not data.get("spoken"):
            if current is not None or echo is not None:
                problems.append(f"echo {data.get('id')} inside turn {len(found)}")
            echo = str(data.get("id") or "")
        elif event == "bot_typing" and data.get("typing"):
            if current is not None:
                problems.append(f"turn {len(found)} started inside turn {len(found) - 1}")
            current = Turn(echo)
            found.append(current)
            echo = None
        elif event == "bot_typing":
            if current is None:
                problems.append(f"a turn end outside a turn after turn {len(found) - 1}")
            else:
                current.whole, current = True, None
        elif event == "bot_uttered":
            if current is None:
                problems.append(f"a reply outside a turn after turn {len(found) - 1}")
            else:
                current.replies.append(str(data.get("text") or ""))
    if echo is not None:
        problems.append(f"echo {echo} not followed by its turn")
    problems += [f"turn {i} cut" for i, t in enumerate(found[:-1]) if not t.whole]
    return found, problems


def run(main: Coroutine[Any, Any, Any]) -> Any:  # noqa: ANN401
    """``asyncio.run(main)`` in a thread of its own (Playwright's sync API keeps an event
    loop running in the test's thread once a browser is open)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main).result()
