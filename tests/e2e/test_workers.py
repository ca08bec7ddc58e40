"""Two Sanic workers (``SANIC_WORKERS=2``) serving one assistant.

A conversation whose turns alternate between the workers keeps its state and its
complete history (``bot/dialogue/tracker_store.py`` re-reads what the other worker
stored, ``bot/dialogue/lock_store.py`` keeps their turns apart), and widget tabs of one
session connected to different workers see each other's turns and every reply, over
UNIX stream sockets or Redis (``connectors/pubsub.py``; 50 sessions of 3 tabs), each
turn whole and in order even while both workers are busy, a message sent again through
the other worker runs once, and long-polling is refused at once (the widget says so
where WebSocket is blocked).  Signed-in widget chats hold on either worker: an identity
token used on one worker is refused as a replay on the other (its ``jti`` is in the shared
shop database), and a sign-in that expires or that the shop revokes ends at the next
message on whichever worker the tab sits.  Which worker holds a connection is read from
the kernel's socket table (psutil), so each test really crosses workers.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest

from bot.store.db import session_scope
from bot.store.identity import revoke_sign_in
from testing.sio_client import Tab, run, turns
from testing.stack import Stack, free_port, stack_env
from tests.e2e.test_identity import BOB_CART, SIGN_IN, anonymous_turn, refused
from tests.e2e.test_identity import say as say_in_tab
from tests.e2e.test_widget import BLOCK_WEBSOCKET, Widget
from tests.redis_server import redis_url

pytestmark = pytest.mark.slow

SECRET = "workers-test-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def shop_port() -> int:
    """The demo shop's port, known before Rasa starts (Rasa's ``--cors`` names its origin)."""
    return free_port()


@pytest.fixture(scope="module")
def workers_stack(model, tmp_path_factory, shop_port) -> Iterator[Stack]:
    """Two workers sharing emits over UNIX stream sockets (no ``REDIS_URL``)."""
    work = tmp_path_factory.mktemp("workers")
    env = stack_env(work, SANIC_WORKERS="2", TOUCHLINE_SESSION_SECRET=SECRET)
    env.pop("REDIS_URL", None)
    stack = Stack(work, model, env, cors=(f"http://127.0.0.1:{shop_port}",)).start()
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="module")
def redis_workers_stack(model, tmp_path_factory) -> Iterator[Stack]:
    """Two workers sharing emits through a Redis server (``REDIS_URL``)."""
    work = tmp_path_factory.mktemp("workers-redis")
    with redis_url(work) as url:
        env = stack_env(work, SANIC_WORKERS="2", TOUCHLINE_SESSION_SECRET=SECRET,
                        REDIS_URL=url)
        stack = Stack(work, model, env).start()
        try:
            yield stack
        finally:
            stack.close()


def workers(stack: Stack) -> list[psutil.Process]:
    """The Sanic worker processes (children of the ``rasa run`` process)."""
    return psutil.Process(stack.procs["rasa"].pid).children()


def worker_ports(stack: Stack) -> dict[int, int]:
    """``{our local port: pid of the worker holding the server end}`` of every connection
    to the Rasa server, read once from the kernel's socket table."""
    held = {}
    for worker in workers(stack):
        for conn in worker.net_connections("tcp"):
            if conn.laddr.port == stack.rasa_port and conn.raddr:
                held[conn.raddr.port] = worker.pid
    return held


def worker_of(stack: Stack, local_port: int) -> int | None:
    """Pid of the worker holding the server end of our connection from ``local_port``."""
    return worker_ports(stack).get(local_port)


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
    assert "e-mail address" in reply  # an anonymous visitor's look-up needs it too
    reply = say(a, "w-order", "alice@example.com")  # and A must see what B stored
    assert "TL-10001 is on its way with DHL" in reply
    assert "welcome" in say(a, "w-order", "thanks!").lower()
    for i in range(6):
        say((a, b)[i % 2], "w-order", f"hello {i}")
    users = [e["text"] for e in workers_stack.tracker("w-order")["events"] if e["event"] == "user"]
    assert users == ["where is my order?", "it's TL-10001", "alice@example.com", "thanks!"] + [
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


# ---- every tab gets every message (pub/sub between the workers) ---------------------------

SESSIONS, TABS = 50, 3
SAID = ("are you a bot?", "thank you")
"""What the first and the second tab of every session say, at the same time."""


async def open_sessions(stack: Stack, count: int = SESSIONS,
                        tabs_each: int = TABS) -> list[list[Tab]]:
    """``count`` sessions of ``tabs_each`` tabs each, the first tab of every session on one
    worker and the second on the other (all tabs joined with the session's token)."""
    by_worker: dict[int, list[Tab]] = {}
    deadline = time.monotonic() + 120
    while (len(by_worker) < 2 or min(map(len, by_worker.values())) < count
           or sum(map(len, by_worker.values())) < count * tabs_each):
        assert time.monotonic() < deadline, f"connections per worker: {by_worker.keys()}"
        batch = await asyncio.gather(*(Tab.connect(stack) for _ in range(30)))
        held = worker_ports(stack)
        for tab in batch:
            by_worker.setdefault(held[tab.port], []).append(tab)
    first, second = by_worker.values()
    sessions = []
    for _ in range(count):
        more = [(first if len(first) > len(second) else second).pop()
                for _ in range(tabs_each - 2)]
        sessions.append([first.pop(), second.pop(), *more])
    for tab in first + second:
        await tab.ws.close()
    for tabs in sessions:
        confirmed = await tabs[0].join(None)
        resume = {"session_id": confirmed["session_id"], "token": confirmed["token"]}
        for tab in tabs[1:]:
            assert (await tab.join(resume))["resumed"]
    return sessions


async def read_turns(tab: Tab, turns: int, ack: int | None, deadline: float) -> None:
    """Read until ``turns`` turns ended (``bot_typing`` false) and acknowledgement ``ack``
    (if any) arrived, or ``deadline`` passed."""
    try:
        while tab.count("bot_typing", typing=False) < turns:
            await tab.next("bot_typing", max(deadline - time.monotonic(), 0.01))
        if ack is not None:
            await tab.ack(ack, max(deadline - time.monotonic(), 0.01))
    except asyncio.TimeoutError:
        return


def missing_messages(tabs: list[Tab], acks: list[dict]) -> list[str]:
    """What each tab of one session lacks: the acknowledgements of the two messages, each
    turn's end, every reply the senders got, and the echo of every message sent from
    another tab."""
    problems = [f"message {i} acknowledged {ack}" for i, ack in enumerate(acks)
                if ack.get("status") != "ok"]
    replies = max(tab.count("bot_uttered") for tab in tabs)
    for i, tab in enumerate(tabs):
        got = tab.count("bot_uttered")
        if got < replies or tab.count("bot_typing", typing=False) < len(SAID):
            problems.append(f"tab {i}: {got} of {replies} replies, "
                            f"{tab.count('bot_typing', typing=False)} of {len(SAID)} turn ends")
        echoes = sorted(d["text"] for e, d in tab.events if e == "user_echo")
        wanted = sorted(text for sender, text in enumerate(SAID) if sender != i)
        if echoes != wanted:
            problems.append(f"tab {i}: echoes {echoes}, wanted {wanted}")
    return problems


def every_tab_gets_every_message(stack: Stack) -> None:
    """The tabs on both workers of each of 50 sessions speak at once; every tab of every
    session must get the echoes it is owed and every reply, and the senders their
    acknowledgements."""

    async def main() -> None:
        sessions = await open_sessions(stack)
        acks = [await asyncio.gather(*(tabs[i].request("user_uttered", {"message": text})
                                       for i, text in enumerate(SAID)))
                for tabs in sessions]
        deadline = time.monotonic() + 60
        await asyncio.gather(*(
            read_turns(tab, len(SAID), ids[i] if i < len(ids) else None, deadline)
            for tabs, ids in zip(sessions, acks) for i, tab in enumerate(tabs)
        ))
        problems = []
        for n, (tabs, ids) in enumerate(zip(sessions, acks)):
            got = [tabs[i].acks.get(ack_id) or {} for i, ack_id in enumerate(ids)]
            problems += [f"session {n}: {p}" for p in missing_messages(tabs, got)]
        for tab in (t for tabs in sessions for t in tabs):
            await tab.ws.close()
        assert not problems, f"{len(problems)} problems, e.g. {problems[:5]}"

    run(main())


def test_every_tab_of_50_sessions_on_two_workers_gets_every_reply_and_echo(workers_stack):
    every_tab_gets_every_message(workers_stack)
    assert "not delivered" not in workers_stack.log("rasa").read_text()


def test_every_tab_gets_every_reply_and_echo_through_redis(redis_workers_stack):
    every_tab_gets_every_message(redis_workers_stack)


# ---- every tab sees each turn whole and in order, however busy the workers are ------------

ORDERED_SESSIONS, ORDERED_ROUNDS = 12, 3
ORDERED_TEXTS = ("are you a bot?", "thank you")
"""What the two tabs of each session say, each :data:`ORDERED_ROUNDS` times, all at once."""


async def keep_busy(stack: Stack, stop: asyncio.Event, conversations: int = 6) -> int:
    """REST conversations on both workers until ``stop`` is set; returns the turns run."""
    turns = 0

    async def talk(n: int) -> None:
        nonlocal turns
        async with httpx.AsyncClient(timeout=60) as client:
            while not stop.is_set():
                r = await client.post(f"{stack.url}/webhooks/rest/webhook",
                                      json={"sender": f"w-busy-{n}",
                                            "message": "where is my order TL-10001"})
                assert r.status_code == 200
                turns += 1

    await asyncio.gather(*(talk(n) for n in range(conversations)))
    return turns


def order_problems(tabs: list[Tab], sent: list[list[str]]) -> list[str]:
    """How the tabs' views of one session's turns disagree: every tab must see every turn
    whole (:func:`testing.sio_client.turns`), the same replies in the same order, and each
    turn once, echoed (with its id) on every tab but the one that sent it."""
    views = [turns(tab.events) for tab in tabs]
    problems = [f"tab {i}: {p}" for i, (_, found) in enumerate(views) for p in found]
    wanted = sum(map(len, sent))
    for i, (blocks, _) in enumerate(views):
        if len(blocks) != wanted or not all(b.whole for b in blocks):
            problems.append(f"tab {i}: {len(blocks)} turns of {wanted}, "
                            f"{sum(not b.whole for b in blocks)} cut")
        if [b.replies for b in blocks] != [b.replies for b in views[0][0]]:
            problems.append(f"tab {i}: replies differ from tab 0's")
        echoed = [b.echo for b in blocks if b.echo is not None]
        others = sorted(m for j, ids in enumerate(sent) if j != i for m in ids)
        if sorted(echoed) != others:
            problems.append(f"tab {i}: echoes {echoed}, wanted {others}")
    for k, column in enumerate(zip(*(blocks for blocks, _ in views))):
        senders = [i for i, block in enumerate(column) if block.echo is None]
        ids = {block.echo for block in column if block.echo is not None}
        if len(senders) != 1 or len(ids) != 1 or next(iter(ids)) not in sent[senders[0]]:
            problems.append(f"turn {k}: sent from tabs {senders}, echoed as {ids}")
    return problems


def every_tab_sees_whole_turns_in_order(stack: Stack) -> None:
    """Both tabs (one per worker) of each session send at once while REST traffic keeps
    the workers busy: a turn run on one worker must reach the other worker's tab before
    the session's next turn, run there, emits anything (connectors/pubsub.py's barrier)."""

    async def main() -> None:
        sessions = await open_sessions(stack, ORDERED_SESSIONS, 2)
        stop = asyncio.Event()
        busy = asyncio.create_task(keep_busy(stack, stop))
        await asyncio.sleep(2)
        sent = [[[f"order-{n}-{i}-{r}-0000" for r in range(ORDERED_ROUNDS)]
                 for i in range(len(tabs))] for n, tabs in enumerate(sessions)]
        await asyncio.gather(*(
            tab.request("user_uttered", {"message": ORDERED_TEXTS[i], "id": message_id})
            for tabs, ids in zip(sessions, sent) for i, tab in enumerate(tabs)
            for message_id in ids[i]
        ))
        deadline = time.monotonic() + 120
        await asyncio.gather(*(read_turns(tab, 2 * ORDERED_ROUNDS, None, deadline)
                               for tabs in sessions for tab in tabs))
        stop.set()
        assert await busy > 0
        problems = [f"session {n}: {p}" for n, (tabs, ids) in enumerate(zip(sessions, sent))
                    for p in order_problems(tabs, ids)]
        for tab in (t for tabs in sessions for t in tabs):
            await tab.ws.close()
        assert not problems, f"{len(problems)} problems, e.g. {problems[:6]}"

    run(main())


def test_turns_reach_every_tab_whole_and_in_order_while_the_workers_are_busy(workers_stack):
    every_tab_sees_whole_turns_in_order(workers_stack)
    assert "not confirmed" not in workers_stack.log("rasa").read_text()


def test_turns_reach_every_tab_whole_and_in_order_through_redis(redis_workers_stack):
    every_tab_sees_whole_turns_in_order(redis_workers_stack)
    assert "not confirmed" not in redis_workers_stack.log("rasa").read_text()


# ---- a message sent again is processed once, whichever worker takes it -------------------


def test_a_message_resent_through_the_other_worker_is_processed_once(workers_stack):
    async def main() -> None:
        first, session = await Tab.open(workers_stack, None)
        resume = {"session_id": session["session_id"], "token": session["token"]}
        second = first
        deadline = time.monotonic() + 180
        while worker_of(workers_stack, second.port) == worker_of(workers_stack, first.port):
            assert time.monotonic() < deadline, "no tab landed on the second worker"
            second, _ = await Tab.open(workers_stack, resume)
        message = {"message": "thank you", "id": "resent-across-workers-0001"}
        assert (await first.ack(await first.request("user_uttered", message)))["status"] == "ok"
        again = await second.ack(await second.request("user_uttered", message))
        assert again == {"status": "duplicate", "id": message["id"]}
        await first.ws.close()
        await second.ws.close()
        events = workers_stack.tracker(session["session_id"])["events"]
        assert [e["text"] for e in events if e["event"] == "user"] == ["thank you"]

    run(main())


def say_once(conn: http.client.HTTPConnection, sender: str, text: str,
             message_id: str) -> tuple[int, list]:
    body = json.dumps({"sender": sender, "message": text, "message_id": message_id})
    conn.request("POST", "/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def test_a_rest_message_with_an_id_is_run_once_however_often_and_wherever_it_is_sent(
        workers_stack):
    """A REST client resends a message whose answer it never got (a timeout, a server
    that died mid-turn) with the same ``message_id``: one turn, the same answer, whether
    the copies reach one worker one after the other or both workers at once."""
    a, b = connections_on_both(workers_stack, lambda: rest_connection(workers_stack))
    first = say_once(a, "w-once", "where is my order?", "rest-resend-0001")
    assert first[0] == 200 and "order number" in first[1][0]["text"]
    assert say_once(b, "w-once", "where is my order?", "rest-resend-0001") == first

    async def both() -> list:
        return await asyncio.gather(
            asyncio.to_thread(say_once, a, "w-once", "it's TL-10001", "rest-resend-0002"),
            asyncio.to_thread(say_once, b, "w-once", "it's TL-10001", "rest-resend-0002"),
        )

    one, two = asyncio.run(both())
    assert one == two and one[0] == 200 and "e-mail address" in one[1][0]["text"]
    users = [e["text"] for e in workers_stack.tracker("w-once")["events"] if e["event"] == "user"]
    assert users == ["where is my order?", "it's TL-10001"]
    bad = say_once(a, "w-once", "hi", "no")  # too short to be an id: refused, not run
    assert bad[0] == 400 and "message_id" in bad[1]["error"]


# ---- long-polling with two workers: refused at once, and the widget says why --------------


def test_long_polling_handshakes_are_refused_at_once_with_two_workers(workers_stack):
    url = f"{workers_stack.url}/socket.io/?EIO=4&transport=polling"
    for _ in range(30):
        r = httpx.get(url, timeout=5)  # a hang fails here
        assert r.status_code == 400 and "Invalid transport" in r.text, (r.status_code, r.text)


def test_widget_where_websockets_are_blocked_says_so_with_two_workers(
    workers_stack, shop_port, browser,
):
    shop = workers_stack.start_api(shop_port)
    context = browser.new_context()
    context.add_init_script(BLOCK_WEBSOCKET)
    tab = Widget(context, shop)
    tab.page.click("#touchline-chat .launcher")
    tab.wait_status("Chat can't connect: this network blocks WebSocket connections.")
    tab.assert_clean()
    context.close()


# ---- identity across the workers --------------------------------------------------------


async def tab_on_worker(stack: Stack, other_than: int | None = None,
                        timeout: float = 180) -> tuple[Tab, int]:
    """A connected tab (no session yet) and the pid of its worker, on a worker other than
    ``other_than`` when given (the second worker may still be loading the model)."""
    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, "no connection landed on another worker"
        tab = await Tab.connect(stack)
        pid = worker_of(stack, tab.port)
        if pid is not None and pid != other_than:
            return tab, pid
        await tab.ws.close()
        await asyncio.sleep(0.2)


def test_an_identity_token_used_on_one_worker_is_refused_on_the_other(workers_stack):
    token = workers_stack.customer_token("bob", "idn-w-replay")

    async def main() -> tuple[str, str]:
        first, pid = await tab_on_worker(workers_stack)
        await first.join({"identity": token})
        second, _ = await tab_on_worker(workers_stack, other_than=pid)
        await second.emit("session_request", {"identity": token})
        reason = await refused(second)
        reply = await say_in_tab(first, "my cart is broken")
        await first.ws.close()
        return reason, reply

    reason, reply = run(main())
    assert reason == "replayed" and BOB_CART in reply


def signed_in_on_both(stack: Stack, conversation: str, ttl_s: int, then) -> list:  # noqa: ANN001
    """Sign ``conversation`` in on one worker (identity token) and on the other (its resume
    token), run ``then(tabs)`` and return what it returns (the tabs are closed after)."""
    async def main() -> list:
        first, pid = await tab_on_worker(stack)
        confirm = await first.join({"identity": stack.customer_token("bob", conversation,
                                                                     ttl_s=ttl_s)})
        second, _ = await tab_on_worker(stack, other_than=pid)
        resumed = await second.join({"resume": confirm["resume"]})
        assert resumed["customer"] is True and resumed["session_id"] == conversation
        assert BOB_CART in await say_in_tab(second, "my cart is broken")
        while (await first.next("bot_typing"))["typing"]:  # the turn reached the first tab
            pass
        try:
            return await then([first, second])
        finally:
            for tab in (first, second):
                await tab.ws.close()

    return run(main())


EXPIRING_TTL_S = 20
"""Lifetime of the sign-in that expires mid-chat: longer than signing in on both workers
and one turn take on a loaded machine (with 6 s, a slow set-up let the first tab's sign-in
end before the turn's typing indicator reached it, and the test waited for it in vain)."""


async def after_the_end(tabs: list[Tab]) -> list[tuple[dict, dict, str]]:
    """Each tab's ``identity_expired``, its new session and the reply to its next message."""
    ended = []
    for tab in tabs:
        reason = await tab.next("identity_expired", timeout=EXPIRING_TTL_S + 30)
        guest = await tab.next("session_confirm")
        ended.append((reason, guest, await say_in_tab(tab, "my cart is broken")))
    return ended


def test_a_sign_in_expiring_mid_chat_ends_on_both_workers(workers_stack):
    ended = signed_in_on_both(workers_stack, "idn-w-expire", EXPIRING_TTL_S, after_the_end)
    for reason, guest, reply in ended:
        assert reason == {"reason": "expired"} and guest["session_id"] != "idn-w-expire"
        assert SIGN_IN in reply and BOB_CART not in reply
        anonymous_turn(workers_stack, guest["session_id"])


def test_a_sign_in_revoked_mid_chat_ends_at_the_next_message_on_either_worker(workers_stack):
    async def revoke_then_talk(tabs: list[Tab]) -> list[tuple[dict, dict, str]]:
        with session_scope(workers_stack.env["DATABASE_URL"]) as session:
            revoke_sign_in(session, "idn-w-revoke")
        replies = [await say_in_tab(tab, "my cart is broken") for tab in tabs]
        return [(await tab.next("identity_expired"), await tab.next("session_confirm"), reply)
                for tab, reply in zip(tabs, replies)]

    ended = signed_in_on_both(workers_stack, "idn-w-revoke", 600, revoke_then_talk)
    sessions = {guest["session_id"] for _, guest, _ in ended}
    assert len(sessions) == 2 and "idn-w-revoke" not in sessions
    for reason, _guest, reply in ended:
        assert reason == {"reason": "revoked"}
        assert SIGN_IN in reply and BOB_CART not in reply
