"""Load and fault run of the production profile (``make run-cluster``) on one machine.

Three Rasa servers, two action servers, nginx, PostgreSQL 16 with pgvector, Redis, RabbitMQ
(throwaway instances of this run: it restarts them) and the event consumer
(:class:`testing.cluster.Cluster`); where the machine allows it (root, network namespaces),
each Rasa and action server runs in a network namespace of its own, as its own host on a
bridge (:mod:`testing.netns`), reaching Redis, RabbitMQ and nginx's internal server at the
bridge's address and PostgreSQL through its UNIX socket. ``--conversations`` REST
conversations, ``--widget`` widget conversations over WebSocket and ``--polling`` over
Engine.IO long-polling (both through nginx), and ``--telegram`` Telegram chats (updates
posted to nginx's webhook as Telegram does, replies read from a fake Bot API,
:mod:`testing.fake_telegram`) run closed loop (each sends its next message when the
previous one is answered; a refused or cut request is sent again, as a client does, and an
apology is answered by sending the message again, as a customer does) through these
phases, ``--phase-s`` seconds each:

``steady``; ``kill`` (a Rasa server SIGKILLed mid-turn, then started again);
``redis`` (Redis killed and started again); ``rabbitmq`` (RabbitMQ stopped for
``--outage-s``, then started); ``postgres`` (PostgreSQL restarted); ``roll`` (the model
file replaced on the model server and the Rasa servers restarted one at a time).

It asserts: every message answered (a refusal or an apology is retried by the client; a
message still refused after :data:`RETRIES` attempts is a failure), each widget tab's
events in whole turns in order (none interleaved), and afterwards ``user`` events per
conversation equal to messages answered (no turn lost or stored twice; Telegram, which
has no message id: each update taken stored at most once, each answered at least once),
and every event in the tracker store at the consumer.

Before that, throughput with 1, 2 and 3 Rasa servers: the REST conversations spread over
the first k servers (their own ports, nginx left out so that only k servers take turns)
for ``--scaling-s`` each, with the cost per turn: CPU seconds of the Rasa, action and consumer
processes, PostgreSQL commits and inserted rows, Redis commands, broker messages.

Usage: ``python -m bench.cluster [--phase-s 20] [--conversations 16] [--widget 4]
[--polling 2] [--telegram 2] [--model M.tar.gz] [--action-servers 2]
[--netns auto|on|off]``; the issue's full run is ``--phase-s 100 --conversations 40
--widget 12 --polling 6 --telegram 6`` (64 conversations, about 13 minutes of faults).
Prints tables and writes JSON (default ``bench/data/cluster.json``); exits 1 when an
assertion fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import redis
import sqlalchemy as sa

from bot.config import PROJECT_ROOT
from bot.dialogue.turn import ConversationId
from bot.store.schema import init_db
from bot.support.wording import APOLOGY
from testing import netns, telegram_updates
from testing.cluster import Cluster
from testing.fake_telegram import TOKEN, USERNAME, FakeBotApi
from testing.services import PostgresServer, RabbitServer, RedisServer, wait_until
from testing.sio_client import PollingTab, Tab, turns
from testing.stack import prepare_features, stack_env, train_project_model

OUT = PROJECT_ROOT / "bench" / "data" / "cluster.json"
TEXTS = ("hi", "where is my order?", "do you sell running shoes?", "what is your return policy?",
         "thanks", "bye")
"""What the simulated customers say, in turn."""
RETRIES = 10
"""Attempts per message before the run counts it as unanswered."""
WARM_UP_S = 20.0
"""Pause after the warm-up turns: each server finishes its start-up work (the
garbage-collector freeze; the stacks load no speech engines at start,
``TOUCHLINE_VOICE_ON_DEMAND``) before the measurements (seconds)."""
GRACE_S = 90.0
"""How long the customers may take to finish their last turn once the run ends (seconds);
a conversation still waiting then is reported as stuck."""
TELEGRAM_SECRET = "bench-cluster-secret"
"""The webhook secret the Rasa servers expect (``TELEGRAM_SECRET_TOKEN``)."""
TELEGRAM_WAIT_S = 120.0
"""How long a Telegram chat waits for the first reply to an update the webhook took
(seconds); none by then counts as a lost turn."""
TELEGRAM_QUIET_S = 1.0
"""A turn's replies are complete when no further message reaches the chat for this long
(seconds): the channel sends them one after another."""


@dataclass
class Ledger:
    """What the customers sent and got, per phase."""

    phase: str = "steady"
    sent: Counter = field(default_factory=Counter)
    """Messages answered per conversation."""
    latencies: dict[str, list[float]] = field(default_factory=dict)
    """Phase -> turn latencies (seconds, retries included)."""
    retried: Counter = field(default_factory=Counter)
    """Phase -> messages that needed more than one attempt."""
    apologies: Counter = field(default_factory=Counter)
    """Phase -> apologies received (each followed by a retry)."""
    failures: list[str] = field(default_factory=list)
    delivered: Counter = field(default_factory=Counter)
    """Telegram updates the webhook took, per chat (each a message of the customer's)."""
    inflight: dict[str, str] = field(default_factory=dict)
    """Conversation -> what it is waiting for now (for a report of stuck conversations)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, sender: str, seconds: float, attempts: int, apologies: int,
               silent: bool) -> None:
        """One answered message of ``sender``."""
        with self.lock:
            self.sent[sender] += 1
            self.latencies.setdefault(self.phase, []).append(seconds)
            self.apologies[self.phase] += apologies
            if attempts > 1:
                self.retried[self.phase] += 1
            if silent:
                self.failures.append(f"{sender}: no reply in phase {self.phase}")


def rest_turn(url: str, sender: str, text: str,
              message_id: str | None = None) -> tuple[list[dict], int, int]:
    """One REST message, sent again while refused: an nginx 502/503/504, a cut connection,
    or the apology a turn that failed answers with (it asks the customer to try again);
    ``(replies, attempts, apologies)``.

    Raises:
        RuntimeError: refused :data:`RETRIES` times.
    """
    apologies = 0
    for attempt in range(1, RETRIES + 1):
        try:
            body = {"sender": sender, "message": text,
                    **({"message_id": message_id} if message_id else {})}
            r = httpx.post(f"{url}/webhooks/rest/webhook", json=body, timeout=120)
            if r.status_code == 200 and not any(m.get("text") == APOLOGY for m in r.json()):
                return r.json(), attempt, apologies
            if r.status_code == 200:
                apologies += 1
            elif r.status_code not in (502, 503, 504):
                raise RuntimeError(f"{sender}: {text!r} answered {r.status_code}")
        except httpx.TransportError:
            pass
        time.sleep(min(0.25 * 2 ** attempt, 5))
    raise RuntimeError(f"{sender}: {text!r} refused {RETRIES} times")


def rest_customer(urls: list[str], sender: str, ledger: Ledger, stop: threading.Event) -> None:
    """A REST conversation, closed loop, until ``stop`` (over ``urls`` in turn)."""
    i = 0
    while not stop.is_set():
        start = time.monotonic()
        ledger.inflight[sender] = f"{TEXTS[i % len(TEXTS)]!r} sent in phase {ledger.phase}"
        try:
            replies, attempts, apologies = rest_turn(urls[i % len(urls)], sender,
                                                     TEXTS[i % len(TEXTS)],
                                                     f"{sender}-message-{i:06d}")
        except RuntimeError as exc:
            ledger.failures.append(f"{exc} (phase {ledger.phase})")
            ledger.inflight.pop(sender, None)
            return
        ledger.inflight.pop(sender, None)
        ledger.record(sender, time.monotonic() - start, attempts, apologies, not replies)
        i += 1


def widget_customer(cluster: Cluster, sender: str, ledger: Ledger,
                    stop: threading.Event, transport: type[Tab] = Tab) -> None:
    """A widget conversation through nginx over ``transport`` (:class:`Tab`: WebSocket,
    :class:`PollingTab`: long-polling), closed loop, sending as the widget does: each
    message carries an ``id`` and is sent again (same id) until the channel acknowledges
    it stored and the replies are not the apology; a connection cut by a restart is opened
    again and the session resumed (its id is the conversation).  Each tab's events must
    form whole turns in order (no turn interleaved with another)."""

    async def retire(tab: Tab) -> None:
        """Close ``tab``; a turn it saw out of order (one inside another, a reply outside
        a turn, :func:`testing.sio_client.turns`) is a failure."""
        _, problems = turns(tab.events)
        if problems:
            ledger.failures.append(f"{sender}: turns out of order on a tab: {problems[:3]}")
        with contextlib.suppress(Exception):
            await tab.close()

    async def main() -> None:
        session: dict[str, Any] | None = None
        i = 0
        tab = None
        while not stop.is_set():
            start = time.monotonic()
            attempts = apologies = 0
            message_id = f"{sender}-w-{i:06d}"
            ledger.inflight[sender] = f"widget turn {i} sent in phase {ledger.phase}"
            while True:
                attempts += 1
                try:
                    if tab is None:
                        tab = await transport.connect(cluster, route=sender)  # type: ignore[arg-type]
                        session = await tab.join(session)
                    before = tab.count("bot_uttered")
                    ack = await tab.ack(await tab.request("user_uttered", {
                        "message": TEXTS[i % len(TEXTS)], "id": message_id,
                        "session_id": session["session_id"]}), timeout=120)
                    replies = [d for e, d in tab.events if e == "bot_uttered"][before:]
                    if ack.get("status") == "duplicate":
                        break  # stored by an attempt whose answer was cut
                    if ack.get("status") not in ("ok", "failed"):
                        raise RuntimeError(f"acknowledged {ack}")
                    if ack["status"] == "ok" and not any(r.get("text") == APOLOGY
                                                         for r in replies):
                        break
                    apologies += 1  # the turn failed: the customer sends it again
                    if attempts >= RETRIES:
                        ledger.failures.append(f"{sender}: apologies only in {ledger.phase}")
                        ledger.inflight.pop(sender, None)
                        return
                    await asyncio.sleep(min(0.25 * 2 ** attempts, 5))
                except Exception:  # connection cut or no answer: reconnect and resend
                    if tab is not None:
                        await retire(tab)
                    tab = None
                    ledger.inflight[sender] = (f"widget turn {i}, attempt {attempts} failed "
                                               f"in phase {ledger.phase}")
                    if attempts >= RETRIES:
                        ledger.failures.append(f"{sender}: unanswered in phase {ledger.phase}")
                        ledger.inflight.pop(sender, None)
                        return
                    await asyncio.sleep(min(0.25 * 2 ** attempts, 5))
            ledger.inflight.pop(sender, None)
            ledger.record(str(session["session_id"]), time.monotonic() - start, attempts,
                          apologies, False)
            i += 1
        if tab is not None:
            await retire(tab)

    asyncio.run(main())


def deliver(cluster: Cluster, update: dict[str, Any]) -> str:
    """Post ``update`` to the Telegram webhook through nginx as Telegram does: the same
    update again while the request fails (a 5xx or a cut connection); the ``status`` the
    channel answered (``accepted``, ``duplicate`` or ``ignored``).

    Raises:
        RuntimeError: refused :data:`RETRIES` times, or answered with a 4xx.
    """
    for attempt in range(1, RETRIES + 1):
        try:
            r = httpx.post(f"{cluster.url}/webhooks/telegram/webhook", json=update, timeout=60,
                           headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
            if r.status_code == 200:
                return str(r.json().get("status"))
            if r.status_code < 500:
                raise RuntimeError(f"update {update['update_id']} answered {r.status_code}")
        except httpx.TransportError:
            pass
        time.sleep(min(0.25 * 2 ** attempt, 5))
    raise RuntimeError(f"update {update['update_id']} refused {RETRIES} times")


def telegram_replies(fake: FakeBotApi, chat_id: int, before: int) -> tuple[list[str], float]:
    """The texts sent to ``chat_id`` after its first ``before`` messages once they stop
    coming (:data:`TELEGRAM_QUIET_S`), and when the first came (``time.monotonic()``);
    ``([], nan)`` when none came within :data:`TELEGRAM_WAIT_S`."""
    deadline = time.monotonic() + TELEGRAM_WAIT_S
    first = float("nan")
    seen, changed = before, time.monotonic()
    while time.monotonic() < deadline:
        now = len(fake.texts(chat_id))
        if now > seen:
            if seen == before:
                first = time.monotonic()
            seen, changed = now, time.monotonic()
        elif seen > before and time.monotonic() - changed >= TELEGRAM_QUIET_S:
            break
        time.sleep(0.05)
    return fake.texts(chat_id)[before:], first


def telegram_customer(cluster: Cluster, fake: FakeBotApi, chat_id: int, ledger: Ledger,
                      stop: threading.Event) -> None:
    """A Telegram chat, closed loop: each message is a new update, delivered as Telegram
    does (:func:`deliver`); once the webhook took it, its replies must reach the chat
    (through the fake Bot API) within :data:`TELEGRAM_WAIT_S`, else the turn counts as
    lost; an apology is answered by sending the message again, as a new update."""
    sender = str(ConversationId.telegram(chat_id))
    i = 0
    while not stop.is_set():
        start = time.monotonic()
        attempts = apologies = 0
        while True:
            attempts += 1
            update = telegram_updates.message(chat_id, TEXTS[i % len(TEXTS)])
            ledger.inflight[sender] = f"update {update['update_id']} sent in {ledger.phase}"
            before = len(fake.texts(chat_id))
            try:
                status = deliver(cluster, update)
            except RuntimeError as exc:
                problem = f"{exc}"
            else:
                with ledger.lock:
                    ledger.delivered[sender] += 1
                replies, first = telegram_replies(fake, chat_id, before)
                problem = "" if replies else (f"update {update['update_id']} ({status}) "
                                              f"never answered")
            if not problem and APOLOGY not in replies:
                break
            if not problem and attempts >= RETRIES:
                problem = "apologies only"
            if problem:
                ledger.failures.append(f"{sender}: {problem} (phase {ledger.phase})")
                ledger.inflight.pop(sender, None)
                return
            apologies += 1
            time.sleep(min(0.25 * 2 ** attempts, 5))
        ledger.inflight.pop(sender, None)
        ledger.record(sender, first - start, attempts, apologies, False)
        i += 1


def percentiles(values: list[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds, and the count."""
    if not values:
        return {"turns": 0, "p50_ms": float("nan"), "p99_ms": float("nan")}
    return {"turns": len(values), "p50_ms": float(np.percentile(values, 50) * 1000),
            "p99_ms": float(np.percentile(values, 99) * 1000)}


def cpu_seconds(cluster: Cluster) -> float:
    """User + system CPU seconds of every process of the cluster and its children."""
    total = 0.0
    for proc in cluster.procs.values():
        try:
            root = psutil.Process(proc.pid)
            for p in [root, *root.children(recursive=True)]:
                times = p.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def counters(cluster: Cluster, redis_url: str) -> dict[str, float]:
    """Cumulative counters for the cost model."""
    engine = sa.create_engine(cluster.env["DATABASE_URL"])
    with engine.connect() as conn:
        commits, inserted = conn.execute(sa.text(
            "SELECT xact_commit, tup_inserted FROM pg_stat_database "
            "WHERE datname = current_database()")).one()
        consumed = conn.execute(sa.text("SELECT count(*) FROM conversation_events")).scalar()
    engine.dispose()
    client = redis.Redis.from_url(redis_url)
    commands = int(client.info("stats")["total_commands_processed"])
    client.close()
    return {"cpu_s": cpu_seconds(cluster), "pg_commits": float(commits),
            "pg_rows_inserted": float(inserted), "redis_commands": float(commands),
            "broker_messages": float(consumed or 0)}


def throughput(cluster: Cluster, redis_url: str, servers: int, conversations: int,
               seconds: float) -> dict[str, Any]:
    """Turns per second with REST traffic on the first ``servers`` Rasa servers, and the
    cost per turn."""
    ledger = Ledger(phase=f"{servers} servers")
    urls = [cluster.server_url(i) for i in range(servers)]
    stop = threading.Event()
    before = counters(cluster, redis_url)
    start = time.monotonic()
    with ThreadPoolExecutor(conversations) as pool:
        for c in range(conversations):
            pool.submit(rest_customer, urls[c % servers:] + urls[:c % servers],
                        f"tp{servers}-{c}-{random.randrange(10**6)}", ledger, stop)
        time.sleep(seconds)
        stop.set()
    elapsed = time.monotonic() - start
    time.sleep(2)  # the consumer catches up before the counters are read
    after = counters(cluster, redis_url)
    turns = len(ledger.latencies.get(ledger.phase, []))
    per_turn = {k: (after[k] - before[k]) / max(turns, 1) for k in after}
    return {"servers": servers, "turns_per_s": turns / elapsed,
            **percentiles(ledger.latencies.get(ledger.phase, [])), "per_turn": per_turn,
            "failures": ledger.failures}


def faults(cluster: Cluster, fake: FakeBotApi, pg: PostgresServer,
           redis_server: RedisServer, rabbit: RabbitServer, new_model: Path,
           args: argparse.Namespace) -> dict[str, Any]:
    """The phases of the fault run (see the module docstring); the report."""
    ledger = Ledger()
    stop = threading.Event()
    run = random.randrange(10**6)
    senders = [f"rest-{i}-{run}" for i in range(args.conversations)]
    customers = [threading.Thread(target=rest_customer, args=([cluster.url], s, ledger, stop),
                                  daemon=True) for s in senders]
    customers += [threading.Thread(target=widget_customer, daemon=True,
                                   args=(cluster, f"{kind}{w}x{run}", ledger, stop, transport))
                  for kind, transport, n in (("tab", Tab, args.widget),
                                             ("poll", PollingTab, args.polling))
                  for w in range(n)]
    customers += [threading.Thread(target=telegram_customer, daemon=True,
                                   args=(cluster, fake, 7_000_000 + run * 100 + c, ledger, stop))
                  for c in range(args.telegram)]
    for t in customers:
        t.start()

    def phase(name: str) -> None:
        ledger.phase = name
        print(f"  phase {name}", flush=True)

    phase("steady")
    time.sleep(args.phase_s)
    phase("kill")
    cluster.kill("rasa1")
    time.sleep(args.phase_s / 2)
    cluster.spawn_rasa(1)
    cluster.wait_rasa(1)
    phase("redis")
    redis_server.stop(kill=True)
    redis_server.start()
    time.sleep(args.phase_s)
    phase("rabbitmq")
    rabbit.stop()
    time.sleep(args.outage_s)
    rabbit.start()
    time.sleep(args.phase_s)
    phase("postgres")
    pg.stop()
    pg.start()
    time.sleep(args.phase_s)
    phase("roll")
    etag = cluster.model_etag()
    cluster.roll(new_model)
    rolled = cluster.model_etag() != etag
    phase("after")
    time.sleep(args.phase_s / 2)
    stop.set()
    deadline = time.monotonic() + GRACE_S
    for t in customers:
        t.join(max(deadline - time.monotonic(), 0))
    for sender, waiting in ledger.inflight.items():
        ledger.failures.append(f"{sender}: no answer {GRACE_S:.0f} s after the run "
                               f"ended ({waiting})")
    counts = stored_user_events(cluster, list(ledger.sent))
    # REST and widget messages carry ids: stored exactly once each.  A Telegram customer
    # who got the apology asks again in a new update (Telegram has no message id to send
    # again), and the failed one may have been stored before its turn failed: each update
    # delivered is stored at most once, each answered one at least once.
    mismatched = {s: (n, counts.get(s, 0)) for s, n in ledger.sent.items()
                  if not (n <= counts.get(s, 0) <= ledger.delivered.get(s, n)
                          if s in ledger.delivered else counts.get(s, 0) == n)}
    asked_again = {s: counts.get(s, 0) - n for s, n in ledger.sent.items()
                   if s in ledger.delivered and counts.get(s, 0) > n}
    tracked, consumed = wait_consumer(cluster)
    return {
        "phases": {p: {**percentiles(v), "retried": ledger.retried[p],
                       "apologies": ledger.apologies[p]}
                   for p, v in ledger.latencies.items()},
        "messages": sum(ledger.sent.values()),
        "failures": ledger.failures,
        "count_mismatches": mismatched,
        "telegram_stored_then_asked_again": asked_again,
        "events_tracked": tracked,
        "events_consumed": consumed,
        "model_etag_changed": rolled,
    }


def stored_user_events(cluster: Cluster, senders: list[str]) -> dict[str, int]:
    """``user`` events per conversation in the tracker store."""
    engine = sa.create_engine(cluster.env["DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT sender_id, count(*) FROM events WHERE type_name = 'user' "
            "GROUP BY sender_id")).all()
    engine.dispose()
    wanted = set(senders)
    return {s: int(n) for s, n in rows if s in wanted}


def wait_consumer(cluster: Cluster, timeout: float = 120) -> tuple[int, int]:
    """``(events in the tracker store, events at the consumer)`` once they agree or after
    ``timeout`` seconds."""
    engine = sa.create_engine(cluster.env["DATABASE_URL"])

    def read() -> tuple[int, int]:
        with engine.connect() as conn:
            return (int(conn.execute(sa.text("SELECT count(*) FROM events")).scalar()),
                    int(conn.execute(sa.text(
                        "SELECT count(*) FROM conversation_events")).scalar()))

    try:
        wait_until(lambda: read()[1] >= read()[0], "the consumer", timeout)
    except RuntimeError:
        pass
    result = read()
    engine.dispose()
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring); 0 when every assertion held."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phase-s", type=float, default=20.0)
    parser.add_argument("--scaling-s", type=float, default=20.0,
                        help="seconds of REST traffic per server count")
    parser.add_argument("--outage-s", type=float, default=30.0,
                        help="how long RabbitMQ stays stopped")
    parser.add_argument("--conversations", type=int, default=16)
    parser.add_argument("--widget", type=int, default=4,
                        help="widget conversations over WebSocket")
    parser.add_argument("--polling", type=int, default=2,
                        help="widget conversations over long-polling")
    parser.add_argument("--telegram", type=int, default=2, help="Telegram chats")
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--action-servers", type=int, default=2)
    parser.add_argument("--netns", choices=("auto", "on", "off"), default="auto",
                        help="each Rasa and action server in its own network namespace "
                             "(auto: where the machine allows it)")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=OUT)
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    work.mkdir(parents=True, exist_ok=True)
    model = args.model or train_project_model(work / "model")
    new_model = work / "rolled.tar.gz"
    new_model.write_bytes(model.read_bytes())  # same weights, a new file (new ETag)
    use_netns = netns.available() if args.netns == "auto" else args.netns == "on"
    with contextlib.ExitStack() as stack:
        network = stack.enter_context(netns.Network()) if use_netns else None
        host = network.gateway if network is not None else "127.0.0.1"
        pg = stack.enter_context(PostgresServer(work / "pg"))  # a UNIX socket: every host
        redis_server = stack.enter_context(RedisServer(work / "redis", host=host))
        rabbit = stack.enter_context(RabbitServer(work / "rabbit", host=host))
        fake = FakeBotApi(host=host).start()
        stack.callback(fake.close)
        url = pg.database("shop")
        init_db(url)
        env = stack_env(work, DATABASE_URL=url, REDIS_URL=redis_server.url,
                        RABBITMQ_URL=rabbit.url, TOUCHLINE_EVENT_QUEUE="touchline_bench",
                        TOUCHLINE_DB_POOL="4", TELEGRAM_TOKEN=TOKEN,
                        TELEGRAM_SECRET_TOKEN=TELEGRAM_SECRET, TELEGRAM_BOT_NAME=USERNAME,
                        TELEGRAM_API_BASE_URL=fake.base_url)
        prepare_features(env)
        cluster = Cluster(work / "cluster", model, env, rasa_servers=args.servers,
                          action_servers=args.action_servers, network=network)
        (work / "cluster").mkdir(exist_ok=True)
        started = time.monotonic()
        cluster.start()
        try:
            print(f"cluster up in {time.monotonic() - started:.0f} s"
                  f"{' (each server in its own network namespace)' if network else ''}",
                  flush=True)
            for i in range(args.servers):  # warm each server up, let start-up work settle
                rest_turn(cluster.server_url(i), f"warm-up-{i}", "hi")
            time.sleep(WARM_UP_S)
            scaling = [throughput(cluster, redis_server.url, k, args.conversations,
                                  args.scaling_s) for k in range(1, args.servers + 1)]
            report = faults(cluster, fake, pg, redis_server, rabbit, new_model, args)
        finally:
            cluster.close()
    report["network_namespaces"] = use_netns
    report |= {"scaling": scaling, "config": {k: str(v) for k, v in vars(args).items()},
               "cpus": psutil.cpu_count()}
    print_report(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    ok = (not report["failures"] and not report["count_mismatches"]
          and report["events_consumed"] == report["events_tracked"]
          and all(not s["failures"] for s in scaling))
    return 0 if ok else 1


def print_report(report: dict[str, Any]) -> None:
    """The tables."""
    print(f"\n{'phase':<10} {'turns':>6} {'retried':>8} {'apologies':>9} {'p50 ms':>8} "
          f"{'p99 ms':>8}")
    for name, p in report["phases"].items():
        print(f"{name:<10} {p['turns']:>6} {p['retried']:>8} {p['apologies']:>9} "
              f"{p['p50_ms']:>8.0f} {p['p99_ms']:>8.0f}")
    print(f"\nmessages {report['messages']}, failures {len(report['failures'])}, "
          f"count mismatches {len(report['count_mismatches'])}, Telegram messages stored "
          f"then asked again {sum(report['telegram_stored_then_asked_again'].values())}, "
          f"events tracked "
          f"{report['events_tracked']} / consumed {report['events_consumed']}, model rolled "
          f"{report['model_etag_changed']}")
    base = report["scaling"][0]["turns_per_s"]
    print(f"\n{'servers':>7} {'turns/s':>8} {'x 1 srv':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'CPU s':>7} {'PG commits':>10} {'PG rows':>8} {'Redis cmds':>10} {'broker':>7}")
    for s in report["scaling"]:
        c = s["per_turn"]
        print(f"{s['servers']:>7} {s['turns_per_s']:>8.2f} {s['turns_per_s'] / base:>8.2f} "
              f"{s['p50_ms']:>8.0f} {s['p99_ms']:>8.0f} {c['cpu_s']:>7.3f} "
              f"{c['pg_commits']:>10.1f} {c['pg_rows_inserted']:>8.1f} "
              f"{c['redis_commands']:>10.1f} {c['broker_messages']:>7.1f}")


if __name__ == "__main__":
    sys.exit(main())
