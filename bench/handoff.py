"""Agent inbox under load: many simultaneous takeovers, one agent replying to each.

    .venv/bin/python -m bench.handoff [--conversations 20] [--rounds 5] [--workers 2]
                                      [--model models/touchline.tar.gz]

Starts the assistant as ``make run`` does (Rasa with ``--workers`` Sanic workers, the
action server, the API) on a fresh seeded database, and waits until every Rasa process has
finished its start-up work (:func:`wait_start_up_done`).  ``--conversations`` widget customers
(socket.io clients speaking the widget's protocol, :class:`testing.sio_client.Tab`) ask for
a person at the same moment; one agent signs in to the inbox API and claims every
conversation.  Then, ``--rounds`` times, the agent sends one reply into every conversation
at once (``POST /agent/api/tickets/<id>/reply``), and each reply's time from the agent's
send to the customer's receipt (the ``bot_uttered`` frame carrying it) is measured.

Baseline, in the same run and alternating with the inbox rounds: the same number of
messages pushed straight into Rasa's own HTTP API (``POST /conversations/<id>/tracker/events
?output_channel=socketio&execute_side_effects=true``, the path the inbox used before it
stored through ``POST /webhooks/agent_messages/send``, :mod:`connectors.agent_messages`),
so the ratio compares the whole inbox path (session, CSRF and hold checks, audit log, one
more HTTP hop, then one INSERT and the delivery) with Rasa's route alone.  Afterwards every
tab must have received each message exactly once, and the tracker store must hold each
exactly once.  Prints a table and writes JSON (``bench/data/handoff.json``); exits 1 when
anything was lost or duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bot.config import PROJECT_ROOT
from bot.store.agents import create_agent
from bot.store.db import session_scope
from bot.store.models import Ticket
from testing.sio_client import Tab
from testing.stack import Stack, prepare_features, stack_env, train_project_model

OUT = PROJECT_ROOT / "bench" / "data" / "handoff.json"
MAKE_RUN_MODEL = PROJECT_ROOT / "models" / "touchline.tar.gz"
PASSWORD = "bench-agent-password"
HANDOFF_TEXT = "I want to talk to a human"
RECEIPT_TIMEOUT_S = 60.0


class Customer:
    """One widget tab whose received frames are time-stamped (``time.perf_counter``)."""

    def __init__(self, tab: Tab, session_id: str) -> None:
        self.tab = tab
        self.session_id = session_id
        self.received: dict[str, list[float]] = {}
        self.sent: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()
        """Set whenever a message arrives (waiters wake on it instead of polling, so the
        measuring process takes no CPU from the servers it measures)."""

    def start(self) -> None:
        """Read frames in the background."""
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        seen = 0
        try:
            while True:
                await self.tab._read(time.monotonic() + 24 * 3600)
                now = time.perf_counter()
                for event, data in self.tab.events[seen:]:
                    if event == "bot_uttered" and isinstance(data.get("text"), str):
                        self.received.setdefault(data["text"], []).append(now)
                        self._arrived.set()
                seen = len(self.tab.events)
        except Exception:  # noqa: BLE001 (the socket closed: the run is over)
            return

    async def wait(self, text: str) -> float:
        """The receipt time of ``text`` (waits for it)."""
        deadline = time.monotonic() + RECEIPT_TIMEOUT_S
        while text not in self.received:
            self._arrived.clear()  # no await since the check: nothing can arrive between
            try:
                await asyncio.wait_for(self._arrived.wait(), deadline - time.monotonic())
            except asyncio.TimeoutError:
                raise TimeoutError(f"{self.session_id} never received {text!r}") from None
        return self.received[text][0]

    async def close(self) -> None:
        """Stop reading and close the socket."""
        if self._task is not None:
            self._task.cancel()
        await self.tab.ws.close()


async def _takeovers(stack: Stack, count: int) -> list[Customer]:
    opened = await asyncio.gather(*(Tab.open(stack, None) for _ in range(count)))
    customers = [Customer(tab, confirm["session_id"]) for tab, confirm in opened]
    for customer in customers:
        customer.start()
    await asyncio.gather(*(c.tab.request("user_uttered", {"message": HANDOFF_TEXT,
                                                         "id": uuid.uuid4().hex})
                           for c in customers))
    deadline = time.monotonic() + 120
    while True:
        with session_scope(stack.env["DATABASE_URL"]) as s:
            held = {t.sender_id for t in s.query(Ticket).filter(Ticket.takeover.is_(True))}
        if {c.session_id for c in customers} <= held:
            return customers
        if time.monotonic() > deadline:
            raise TimeoutError("not every customer got a takeover ticket")
        await asyncio.sleep(0.2)


async def _round(customers: list[Customer], send: Any, label: str) -> list[float]:  # noqa: ANN401
    """Send one message into every conversation at once; the send-to-receipt times (ms)."""
    texts = {c.session_id: f"{label} {uuid.uuid4().hex[:8]}" for c in customers}

    async def one(customer: Customer) -> float:
        text = texts[customer.session_id]
        customer.sent.append(text)
        started = time.perf_counter()
        await send(customer, text)
        return (await customer.wait(text) - started) * 1000

    return list(await asyncio.gather(*(one(c) for c in customers)))


async def drive(stack: Stack, api: str, conversations: int, rounds: int) -> dict[str, Any]:
    """Open the takeovers, claim them, run the inbox and baseline rounds, count."""
    customers = await _takeovers(stack, conversations)
    limits = httpx.Limits(max_connections=conversations * 2)
    async with httpx.AsyncClient(base_url=api, timeout=60, limits=limits) as agent, \
            httpx.AsyncClient(base_url=stack.url, timeout=60, limits=limits) as rasa:
        login = await agent.post("/agent/api/login", json={"email": "bench@shop.example",
                                                           "password": PASSWORD})
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        tickets = {t["conversation_id"]: t["ticket_id"]
                   for t in (await agent.get("/agent/api/queue")).json()}
        await asyncio.gather(*(agent.post(f"/agent/api/tickets/{tickets[c.session_id]}/claim",
                                          headers=csrf) for c in customers))

        async def via_inbox(customer: Customer, text: str) -> None:
            r = await agent.post(f"/agent/api/tickets/{tickets[customer.session_id]}/reply",
                                 json={"text": text}, headers=csrf)
            r.raise_for_status()

        async def direct(customer: Customer, text: str) -> None:
            r = await rasa.post(
                f"/conversations/{customer.session_id}/tracker/events",
                params={"token": stack.token, "output_channel": "socketio",
                        "execute_side_effects": "true"},
                json=[{"event": "bot", "text": text, "timestamp": time.time()}])
            r.raise_for_status()

        await _round(customers, via_inbox, "warm-up inbox")
        await _round(customers, direct, "warm-up direct")
        inbox_ms: list[float] = []
        direct_ms: list[float] = []
        for i in range(rounds):
            inbox_ms += await _round(customers, via_inbox, f"inbox {i}")
            direct_ms += await _round(customers, direct, f"direct {i}")
        await asyncio.sleep(1.0)  # late duplicates would arrive now
    tab_counts = [len(c.received.get(text, [])) for c in customers for text in c.sent]
    tracker_counts = []
    for customer in customers:
        events = stack.tracker(customer.session_id)["events"]
        bots = [e.get("text") for e in events if e["event"] == "bot"]
        tracker_counts += [bots.count(text) for text in customer.sent]
    for customer in customers:
        await customer.close()
    expected = conversations * (rounds + 1) * 2
    return {
        "conversations": conversations, "rounds": rounds, "messages_expected": expected,
        "inbox_ms": inbox_ms, "direct_ms": direct_ms,
        "received": sum(1 for n in tab_counts if n >= 1),
        "received_twice": sum(1 for n in tab_counts if n > 1),
        "stored": sum(1 for n in tracker_counts if n >= 1),
        "stored_twice": sum(1 for n in tracker_counts if n > 1),
    }


def wait_start_up_done(stack: Stack, workers: int, timeout: float = 300) -> None:
    """Wait until every Rasa server process has finished its start-up work, which runs
    after it answers HTTP: the garbage-collector freeze (:mod:`bot.runtime.gc_freeze`,
    whose full collection holds the process for seconds on this machine; the stack loads
    no speech engines at start, ``TOUCHLINE_VOICE_ON_DEMAND``).  Measured rounds
    overlapping it stalled together.

    Raises:
        TimeoutError: not all ``workers`` logged the freeze within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while stack.log("rasa").read_text().count("start-up objects for the garbage") < workers:
        if time.monotonic() > deadline:
            raise TimeoutError(f"not all {workers} Rasa processes finished starting up")
        time.sleep(0.5)


def summary(ms: list[float]) -> dict[str, float]:
    """p50 / p95 / p99 / max of a list of milliseconds."""
    a = np.asarray(ms)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)), "max": float(a.max()), "n": int(a.size)}


def table(report: dict[str, Any]) -> str:
    """The printed table of a run."""
    inbox, direct = report["inbox"], report["direct"]
    rows = [
        "| path | messages | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|",
        *(f"| {name} | {s['n']} | {s['p50']:.1f} | {s['p95']:.1f} | {s['p99']:.1f} | "
          f"{s['max']:.1f} |" for name, s in (("agent inbox reply", inbox),
                                                ("Rasa events API (baseline)", direct))),
        "",
        f"p95 ratio inbox / baseline: {inbox['p95'] / direct['p95']:.2f}",
        f"load average (1 min) before / after the rounds: "
        f"{report['load_average_1min'][0]} / {report['load_average_1min'][1]} "
        f"on {report['cpus']} CPUs",
        f"expected {report['messages_expected']}, received {report['received']} "
        f"({report['received_twice']} twice), stored {report['stored']} "
        f"({report['stored_twice']} twice)",
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring); returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="Rasa server processes")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=OUT)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="touchline-handoff-"))
    model = args.model or (MAKE_RUN_MODEL if MAKE_RUN_MODEL.exists()
                           else train_project_model(work / "model"))
    env = stack_env(work, SANIC_WORKERS=str(args.workers), TOUCHLINE_ACTION_TIMEOUT_S="60",
                    TOUCHLINE_SESSION_SECRET="bench-handoff-session-secret-0123")
    env.pop("REDIS_URL", None)
    prepare_features(env)
    with session_scope(env["DATABASE_URL"]) as s:
        create_agent(s, "Bench", "bench@shop.example", PASSWORD)
    stack = Stack(work, model, env)
    try:
        stack.start()
        wait_start_up_done(stack, args.workers)
        api = stack.start_api()
        load_before = os.getloadavg()[0]
        raw = asyncio.run(drive(stack, api, args.conversations, args.rounds))
        load_after = os.getloadavg()[0]
    finally:
        stack.close()
    report = {**{k: v for k, v in raw.items() if not k.endswith("_ms")},
              "load_average_1min": [round(load_before, 2), round(load_after, 2)],
              "cpus": os.cpu_count(),
              "workers": args.workers, "inbox": summary(raw["inbox_ms"]),
              "direct": summary(raw["direct_ms"]), "inbox_ms": raw["inbox_ms"],
              "direct_ms": raw["direct_ms"]}
    print(table(report))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    ok = (report["received"] == report["stored"] == report["messages_expected"]
          and report["received_twice"] == report["stored_twice"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
