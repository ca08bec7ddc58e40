"""The production profile under faults, short version of ``bench/cluster.py``: two Rasa
servers and an action server behind nginx, PostgreSQL (with pgvector), Redis and RabbitMQ
of this module (throwaway instances: the tests restart them), and the event consumer."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from bot.store.schema import init_db
from bot.support.wording import APOLOGY
from testing.cluster import Cluster
from testing.services import PostgresServer, RabbitServer, RedisServer, wait_until
from testing.sio_client import PollingTab, Tab
from testing.stack import prepare_features, stack_env

pytestmark = [pytest.mark.slow, pytest.mark.servers]

RETRIES = 8
"""Attempts per message: a refused or cut request (nginx 502/503/504, connection reset)
is sent again after a pause, as a client of the REST channel does."""


@pytest.fixture(scope="module")
def services(tmp_path_factory) -> Iterator[tuple[PostgresServer, RedisServer, RabbitServer]]:
    """PostgreSQL, Redis and RabbitMQ of this module."""
    work = tmp_path_factory.mktemp("services")
    with PostgresServer(work / "pg") as pg, RedisServer(work / "redis") as redis, \
            RabbitServer(work / "rabbit") as rabbit:
        yield pg, redis, rabbit


@pytest.fixture(scope="module")
def cluster(model, services, tmp_path_factory) -> Iterator[Cluster]:
    """Two Rasa servers, one action server, nginx and the consumer over ``services``."""
    pg, redis, rabbit = services
    work = tmp_path_factory.mktemp("cluster")
    url = pg.database("shop")
    init_db(url)
    env = stack_env(work, DATABASE_URL=url, REDIS_URL=redis.url, RABBITMQ_URL=rabbit.url,
                    TOUCHLINE_EVENT_QUEUE="touchline_cluster_test", TOUCHLINE_DB_POOL="4")
    prepare_features(env)
    running = Cluster(work, model, env, rasa_servers=2, action_servers=1).start()
    yield running
    running.close()


def turn(cluster: Cluster, sender: str, text: str,
         message_id: str | None = None) -> tuple[list[dict], int]:
    """One message through nginx, sent again (with the same ``message_id``, if any) while
    refused; ``(replies, attempts)``.

    Raises:
        AssertionError: still refused after :data:`RETRIES` attempts, or an answer other
            than 200 or a refusal.
    """
    for attempt in range(1, RETRIES + 1):
        try:
            r = cluster.say(sender, text, message_id=message_id)
        except httpx.TransportError:
            r = None
        if r is not None and r.status_code == 200:
            return r.json(), attempt
        assert r is None or r.status_code in (502, 503, 504), r.text
        time.sleep(0.5 * attempt)
    raise AssertionError(f"{sender}: {text!r} refused {RETRIES} times")


def stalled(answers: list, seconds: float = 2.0) -> bool:
    """Whether no answer came in the next ``seconds``."""
    before = len(answers)
    time.sleep(seconds)
    return len(answers) == before


def user_events(cluster: Cluster, sender: str) -> int:
    """``user`` events in the conversation's stored tracker."""
    return sum(1 for e in cluster.tracker(sender)["events"] if e["event"] == "user")


def test_rest_turns_use_both_servers_and_only_the_channels_are_exposed(cluster):
    senders = [f"rest-{i}" for i in range(6)]

    def conversation(sender: str) -> list[list[dict]]:
        # A request nginx cut (a 504 while the servers warm up) is resent with its id.
        return [turn(cluster, sender, text, message_id=f"{sender}-message-{i:04d}")[0]
                for i, text in enumerate(("hi", "where is my order?", "thanks, bye"))]

    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(conversation, senders))
    assert all(r and all(m.get("text") or m.get("buttons") for m in r)
               for conv in replies for r in conv)
    assert [user_events(cluster, s) for s in senders] == [3] * 6
    access = (cluster.workdir / "nginx-access.log").read_text().splitlines()
    upstreams = {line.split()[-1] for line in access if " /webhooks/" in line}
    assert {f"127.0.0.1:{p}" for p in cluster.layout.rasa_ports} <= upstreams
    for path in ("/model/parse", "/conversations/rest-0/tracker", "/status", "/version"):
        assert httpx.get(f"{cluster.url}{path}", timeout=10).status_code == 404, path
    r = httpx.post(f"{cluster.url}/model/parse", json={"text": "hi"}, timeout=10)
    assert r.status_code == 404


def test_the_widget_works_over_websocket_and_polling_through_nginx(cluster):
    async def websocket(route: str) -> dict:
        tab = await Tab.connect(cluster, route=route)
        await tab.join(None)
        await tab.emit("user_uttered", {"message": "hi"})
        reply = await tab.next("bot_uttered", timeout=60)
        await tab.ws.close()
        return reply

    async def polling(route: str) -> tuple[dict, list[dict]]:
        tab = await PollingTab.connect(cluster, route=route)
        try:
            session = await tab.join(None)
            ack = await tab.ack(await tab.request("user_uttered", {
                "message": "hi", "id": "poll-message-0001",
                "session_id": session["session_id"]}), timeout=60)
            return ack, [d for e, d in tab.events if e == "bot_uttered"]
        finally:
            await tab.close()

    assert asyncio.run(websocket("ws-route-1")).get("text")
    ack, replies = asyncio.run(polling("poll-route-7"))
    assert ack == {"status": "ok", "id": "poll-message-0001"}
    assert replies and replies[0].get("text")


def test_a_killed_server_and_a_redis_restart_lose_no_turn(cluster, services):
    _pg, redis, _rabbit = services
    senders = [f"fault-{i}" for i in range(6)]
    sent = dict.fromkeys(senders, 0)
    resent = dict.fromkeys(senders, 0)
    answers: list[tuple[str, list[dict], int]] = []
    stop = threading.Event()

    def conversation(sender: str) -> None:
        texts = ["hi", "where is my order?", "do you sell running shoes?", "thanks"]
        i = 0
        while not stop.is_set() or i < 2:
            replies, attempts = turn(cluster, sender, texts[i % len(texts)],
                                     message_id=f"{sender}-message-{i:04d}")
            sent[sender] += 1
            resent[sender] += attempts - 1
            answers.append((sender, replies, attempts))
            i += 1

    with ThreadPoolExecutor(len(senders)) as pool:
        running = [pool.submit(conversation, s) for s in senders]
        wait_until(lambda: len(answers) >= 6, "first answers", 120)
        # rasa1 hangs, then dies: nginx sends it half the turns, so every conversation is
        # soon waiting on it, and the kill cuts those turns (however fast the machine).
        cluster.freeze("rasa1")
        wait_until(lambda: stalled(answers), "every conversation waiting on rasa1", 60)
        cluster.kill("rasa1")
        wait_until(lambda: len(answers) >= 18, "answers without rasa1", 180)
        redis.stop(kill=True)
        redis.start()
        cluster.spawn_rasa(1)
        cluster.wait_rasa(1)
        count = len(answers)
        wait_until(lambda: len(answers) >= count + 12, "answers after the restarts", 180)
        stop.set()
        for future in running:
            future.result()
    assert all(replies for _s, replies, _a in answers)
    assert not [r for _s, replies, _a in answers for r in replies if r.get("text") == APOLOGY]
    assert any(attempts > 1 for _s, _r, attempts in answers), "the kill refused no request"
    # No turn lost or stored twice: the SIGKILL can land between a turn's commit and its
    # answer, and the client then sends the message again with the same message id.
    stored = {s: user_events(cluster, s) for s in senders}
    assert stored == sent, (sent, resent, stored)


def test_redis_down_gets_the_customer_a_polite_reply_not_a_hang(cluster, services):
    _pg, redis, _rabbit = services

    async def widget_message(tab: Tab, session: dict) -> tuple[dict, list[dict]]:
        """A message with an id from a tab joined before the outage: the acknowledgement
        and the replies before it (a hang would raise a time-out)."""
        ack = await tab.ack(await tab.request("user_uttered", {
            "message": "hi", "id": "redis-down-widget-0001",
            "session_id": session["session_id"]}), timeout=60)
        return ack, [d for e, d in tab.events if e == "bot_uttered"]

    async def outage() -> tuple[httpx.Response, httpx.Response, dict, list[dict]]:
        tab = await Tab.connect(cluster, route="redis-down-tab")
        session = await tab.join(None)
        redis.stop(kill=True)
        try:
            r = await asyncio.to_thread(cluster.say, "redis-down", "hi", 60)
            # with a message id the REST channel takes the lock itself: the apology, not a 500
            with_id = await asyncio.to_thread(cluster.say, "redis-down", "hi", 60,
                                              "redis-down-0001")
            # the widget's session lock cannot be taken: the apology, and an answer
            ack, replies = await widget_message(tab, session)
            # nor for a tab opening now: disconnected (the widget reconnects), not left
            # waiting for its session
            late = await Tab.connect(cluster, route="redis-down-late")
            await late.emit("session_request", {})
            await late.next("disconnect", timeout=30)
            await late.close()
        finally:
            redis.start()
            await tab.close()
        return r, with_id, ack, replies

    r, with_id, ack, widget_replies = asyncio.run(outage())
    for answer in (r, with_id):
        assert answer.status_code == 200, answer.text
        assert [m.get("text") for m in answer.json()] == [APOLOGY]
    assert ack == {"status": "failed", "id": "redis-down-widget-0001"}
    assert [m.get("text") for m in widget_replies] == [APOLOGY]
    replies, _attempts = turn(cluster, "redis-down", "hi")
    assert replies and replies[0].get("text") != APOLOGY


def test_every_event_reaches_the_consumer(cluster):
    url = cluster.env["DATABASE_URL"]
    engine = sa.create_engine(url)

    def counts() -> tuple[int, int]:
        with engine.connect() as conn:
            tracked = conn.execute(sa.text("SELECT count(*) FROM events")).scalar()
            consumed = conn.execute(sa.text("SELECT count(*) FROM conversation_events")).scalar()
        return int(tracked), int(consumed)

    try:
        wait_until(lambda: counts()[1] >= counts()[0] > 0, "the consumer", 60)
        tracked, consumed = counts()
    finally:
        engine.dispose()
    assert consumed == tracked
