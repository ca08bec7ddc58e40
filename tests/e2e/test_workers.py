"""Two Sanic workers (``SANIC_WORKERS=2``) serving one assistant.

A conversation whose turns alternate between the workers keeps its state and its
complete history (``bot/dialogue/tracker_store.py`` re-reads what the other worker
stored, ``bot/dialogue/lock_store.py`` keeps their turns apart), and widget tabs of one
session connected to different workers see each other's turns
(``connectors/pubsub.py``).  Which worker holds a connection is read from the kernel's
socket table (psutil), so each test really crosses workers.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from collections.abc import Iterator

import psutil
import pytest
import websockets

from testing.stack import Stack, stack_env

pytestmark = pytest.mark.slow

SECRET = "workers-test-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def workers_stack(model, tmp_path_factory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("workers")
    env = stack_env(work, SANIC_WORKERS="2", TOUCHLINE_SESSION_SECRET=SECRET)
    stack = Stack(work, model, env).start()
    try:
        yield stack
    finally:
        stack.close()


def workers(stack: Stack) -> list[psutil.Process]:
    """The Sanic worker processes (children of the ``rasa run`` process)."""
    return psutil.Process(stack.procs["rasa"].pid).children()


def worker_of(stack: Stack, local_port: int) -> int | None:
    """Pid of the worker holding the server end of our connection from ``local_port``."""
    for worker in workers(stack):
        for conn in worker.connections("tcp"):
            if conn.laddr.port == stack.rasa_port and conn.raddr and conn.raddr.port == local_port:
                return worker.pid
    return None


def connections_on_both(stack: Stack, connect, timeout: float = 180) -> list:  # noqa: ANN001
    """Open connections with ``connect() -> (conn, local_port)`` until two sit on different
    workers (the second worker may still be loading the model); returns those two."""
    by_worker: dict[int, object] = {}
    deadline = time.monotonic() + timeout
    while len(by_worker) < 2:
        assert time.monotonic() < deadline, "the second worker never accepted a connection"
        conn, port = connect()
        pid = worker_of(stack, port)
        if pid is not None and pid not in by_worker:
            by_worker[pid] = conn
        else:
            time.sleep(0.2)
    return list(by_worker.values())


def rest_connection(stack: Stack) -> tuple[http.client.HTTPConnection, int]:
    conn = http.client.HTTPConnection("127.0.0.1", stack.rasa_port, timeout=60)
    conn.request("GET", "/")
    conn.getresponse().read()  # keep-alive: the same socket serves the next requests
    return conn, conn.sock.getsockname()[1]


def say(conn: http.client.HTTPConnection, sender: str, text: str) -> str:
    body = json.dumps({"sender": sender, "message": text})
    conn.request("POST", "/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200
    return " ".join(m.get("text", "") for m in json.loads(response.read()))


def test_a_conversation_alternating_between_workers_keeps_state_and_history(workers_stack):
    assert len(workers(workers_stack)) == 2
    a, b = connections_on_both(workers_stack, lambda: rest_connection(workers_stack))
    assert "order number" in say(a, "w-order", "where is my order?")  # the form starts on A
    reply = say(b, "w-order", "it's TL-10001")  # B must see A's active form
    assert "TL-10001 is on its way with DHL" in reply
    assert "welcome" in say(a, "w-order", "thanks!").lower()
    for i in range(6):
        say((a, b)[i % 2], "w-order", f"hello {i}")
    users = [e["text"] for e in workers_stack.tracker("w-order")["events"] if e["event"] == "user"]
    assert users == ["where is my order?", "it's TL-10001", "thanks!"] + [
        f"hello {i}" for i in range(6)
    ]


def test_one_senders_simultaneous_messages_on_both_workers_are_all_kept(workers_stack):
    a, b = connections_on_both(workers_stack, lambda: rest_connection(workers_stack))

    async def both() -> None:
        await asyncio.gather(
            asyncio.to_thread(say, a, "w-burst", "hello"),
            asyncio.to_thread(say, b, "w-burst", "are you a bot?"),
        )

    for _ in range(3):
        asyncio.run(both())
    events = workers_stack.tracker("w-burst")["events"]
    users = [e["text"] for e in events if e["event"] == "user"]
    assert sorted(users) == sorted(["hello", "are you a bot?"] * 3)  # none lost or doubled
    # Turns did not interleave: every user message is followed by its own reply before
    # the next user message.
    kinds = [e["event"] for e in events if e["event"] in ("user", "bot")]
    assert kinds == ["user", "bot"] * 6


class Tab:
    """A minimal Socket.IO v5 client over one WebSocket (``websockets``; python-socketio's
    own client needs a newer aiohttp than Rasa pins): the widget's protocol, one tab."""

    def __init__(self, ws: websockets.WebSocketClientProtocol) -> None:
        self.ws = ws
        self.events: list[tuple[str, dict]] = []

    @classmethod
    async def open(cls, stack: Stack, session: dict | None) -> tuple[Tab, dict]:
        url = f"ws://127.0.0.1:{stack.rasa_port}/socket.io/?EIO=4&transport=websocket"
        tab = cls(await websockets.connect(url))
        assert (await tab.ws.recv()).startswith("0")  # Engine.IO open
        await tab.ws.send("40")  # Socket.IO connect to "/"
        assert (await tab.ws.recv()).startswith("40")
        await tab.emit("session_request", session or {})
        return tab, await tab.next("session_confirm")

    @property
    def port(self) -> int:
        return self.ws.transport.get_extra_info("sockname")[1]

    async def emit(self, event: str, data: dict) -> None:
        await self.ws.send("42" + json.dumps([event, data]))

    async def next(self, wanted: str, timeout: float = 30) -> dict:
        """Read until event ``wanted`` arrives (answering pings, keeping other events);
        ``asyncio.TimeoutError`` after ``timeout`` seconds in all."""
        deadline = time.monotonic() + timeout
        while True:
            frame = await asyncio.wait_for(self.ws.recv(), deadline - time.monotonic())
            if frame == "2":
                await self.ws.send("3")
            elif frame.startswith("42"):
                event, data = json.loads(frame[2:])
                self.events.append((event, data))
                if event == wanted:
                    return data


def test_widget_tabs_of_one_session_on_different_workers_see_each_others_turns(
    workers_stack,
):
    async def main() -> None:
        first, session = await Tab.open(workers_stack, None)
        resume = {"session_id": session["session_id"], "token": session["token"]}
        tabs = [first]
        deadline = time.monotonic() + 180
        while len({worker_of(workers_stack, t.port) for t in tabs} - {None}) < 2:
            assert time.monotonic() < deadline, "no tab landed on the second worker"
            await asyncio.sleep(0.2)
            tab, confirmed = await Tab.open(workers_stack, resume)
            assert confirmed["resumed"] and confirmed["session_id"] == resume["session_id"]
            tabs.append(tab)
        # The tabs sit on both workers: whichever holds the sender, another tab is on the
        # other one and must still get the echo and the reply.
        sender = tabs[-1]
        await sender.emit("user_uttered", {"message": "are you a bot?"})
        for tab in tabs:
            reply = await tab.next("bot_uttered")
            assert "bot" in reply["text"].lower()
            echoes = [d["text"] for e, d in tab.events if e == "user_echo"]
            assert echoes == ([] if tab is sender else ["are you a bot?"])
            await tab.ws.close()

    asyncio.run(main())
