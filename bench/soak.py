"""Soak run: a steady mix of REST, widget and Telegram traffic against the assistant as
``make run`` starts it, counting what was lost, duplicated or left unanswered.

The stack is :class:`testing.stack.Stack` with what ``make run`` sets: two Rasa server
processes (``SANIC_WORKERS=2``), the action server, the SQL tracker store and the lock
store shared across processes, a session secret, and the Telegram channel (pointed at
:class:`testing.fake_telegram.FakeBotApi`).  Its shop database is freshly seeded, plus one
customer with a duplicate payment per complaint, signed in (:func:`add_complainers`).  The customers
are :mod:`bench.soak_traffic`'s; afterwards :mod:`bench.soak_count` reads the tracker
store, the shop database, the fake Bot API and the logs.

Usage: ``python -m bench.soak --minutes 30 [--json bench/out/soak.json]``.  Prints a table,
writes JSON, and exits with status 1 when a message was lost or stored twice, a reply
went missing, a complaint opened other than one ticket, or a log holds a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.soak_count import (
    count_messages,
    log_counts,
    rest_reply_problems,
    stored_conversations,
    tab_problems,
    telegram_reply_problems,
    ticket_counts,
)
from bench.soak_traffic import (
    TELEGRAM_SECRET,
    Ledger,
    Traffic,
    rest_complaint,
    rest_user,
    telegram_complaint,
    telegram_user,
    widget_session,
    widget_user,
)
from bot.config import PROJECT_ROOT
from bot.dialogue.turn import ConversationId, Namespace
from bot.store.db import session_scope
from bot.store.identity import create_telegram_link, redeem_telegram_link
from bot.store.models import Customer, Order, Payment, utcnow
from testing.fake_telegram import TOKEN, USERNAME, FakeBotApi
from testing.stack import Stack, prepare_features, stack_env, train_project_model

OUT = PROJECT_ROOT / "bench" / "out" / "soak.json"
MAKE_RUN_MODEL = PROJECT_ROOT / "models" / "touchline.tar.gz"
SESSION_SECRET = "soak-session-secret-0123456789abcdef"
CHANNELS = ("rest", "widget", "telegram")
REST_COMPLAINER, WIDGET_COMPLAINER, TELEGRAM_COMPLAINER = (
    "soak-complainer-{}", "soak-widget-complainer-{}", 8000)
"""Conversation of complaining REST or widget customer ``i``; chat of Telegram complainer
``i`` is 8000+i."""


def add_complainers(database_url: str, count: int) -> dict[int, tuple[str, str]]:
    """Add ``count`` customers, each with an order paid twice (two successful payments of
    the same amount a minute apart), over the channels in turn, each signed in the way its
    channel allows (payments need a verified customer): a REST or widget customer by an
    identity token the shop mints (:func:`bench.soak_traffic.rest_complaint`,
    :func:`bench.soak_traffic.widget_session`), a Telegram chat linked to the account by a
    one-time link (:func:`bot.store.identity.redeem_telegram_link`).

    Returns:
        customer id -> (channel, conversation id: the REST sender, the widget session id
        the identity token names, or ``telegram:<chat id>``).
    """
    made = {}
    now = utcnow()
    with session_scope(database_url) as session:
        for i in range(count):
            channel = CHANNELS[i % len(CHANNELS)]
            sender = {"rest": REST_COMPLAINER.format(i), "widget": WIDGET_COMPLAINER.format(i),
                      "telegram": str(ConversationId.telegram(TELEGRAM_COMPLAINER + i))}[channel]
            customer = Customer(name=f"Soak Customer {i}", email=f"soak{i}@example.com",
                                country="US")
            session.add(customer)
            session.flush()
            order = Order(number=f"TL-{70000 + i}", customer_id=customer.id,
                          status="processing", total=Decimal("59.90"))
            session.add(order)
            session.flush()
            for minutes in (0, 1):
                session.add(Payment(customer_id=customer.id, order_id=order.id, method="card",
                                    amount=Decimal("59.90"), status="succeeded",
                                    created_at=now - timedelta(hours=1, minutes=-minutes)))
            if channel == "telegram":
                link = create_telegram_link(session, customer.id)
                session.flush()
                redeem_telegram_link(session, link, TELEGRAM_COMPLAINER + i)
            made[customer.id] = (channel, sender)
    return made


async def complain(traffic: Traffic, customer: int, channel: str, sender: str,
                   at: float) -> None:
    """One customer's complaints, starting ``at`` (``time.monotonic()``)."""
    await asyncio.sleep(max(at - time.monotonic(), 0))
    if channel == "rest":
        await rest_complaint(traffic, sender, customer)
    elif channel == "telegram":
        await telegram_complaint(traffic, int(sender.split(":")[1]))
    else:
        await widget_session(traffic, f"complaint{customer}", 0,
                             signed_in=(customer, sender))


async def drive(traffic: Traffic, users: dict[str, int],
                complainers: dict[int, tuple[str, str]], seconds: float) -> None:
    """Run every user until the end of the run, complaints spread evenly over it."""
    start = time.monotonic()
    tasks = [rest_user(traffic, n) for n in range(users["rest"])]
    tasks += [widget_user(traffic, n) for n in range(users["widget"])]
    tasks += [telegram_user(traffic, 7000 + n) for n in range(users["telegram"])]
    tasks += [complain(traffic, customer, channel, sender,
                       start + seconds * (i + 0.5) / len(complainers))
              for i, (customer, (channel, sender)) in enumerate(complainers.items())]
    await asyncio.gather(*tasks)


def wait_telegram(stack: Stack, ledger: Ledger, timeout: float = 60) -> None:
    """Wait until every accepted Telegram update is stored and answered (updates are
    processed after the webhook's 200)."""
    wanted = {s.key for s in ledger.sent if s.channel == "telegram" and s.accepted}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conversations = stored_conversations(stack.workdir / "tracker.db")
        stored = {t.key for sender, turns in conversations.items()
                  if ConversationId.parse(sender).namespace is Namespace.TELEGRAM
                  for t in turns if t.replies}
        if wanted <= stored:
            break
        time.sleep(0.5)
    time.sleep(2)  # the last replies' Bot API calls


def soak(minutes: float, users: dict[str, int], complaints: int, workdir: Path,
         model: Path | None, seed: int = 7, think_s: float = 2.0) -> dict[str, Any]:
    """Start the stack, run the traffic for ``minutes``, count.

    Args:
        minutes: how long customers keep starting turns (the run then drains).
        users: concurrent ``rest`` customers, ``widget`` sessions and ``telegram`` chats.
        complaints: complaining customers (over the channels in turn).
        workdir: an empty folder for the databases and logs.
        model: a trained model; ``None``: ``make run``'s, else one trained here.
        seed: of the customers' random choices.
        think_s: mean pause between one customer's turns, in seconds.

    Returns:
        The report (see :func:`report_ok`).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    if model is None:
        model = MAKE_RUN_MODEL if MAKE_RUN_MODEL.exists() else train_project_model(
            Path(tempfile.mkdtemp(dir=workdir, prefix="model-")))
    fake = FakeBotApi().start()
    env = stack_env(workdir, SANIC_WORKERS="2", TOUCHLINE_SESSION_SECRET=SESSION_SECRET,
                    TELEGRAM_TOKEN=TOKEN, TELEGRAM_SECRET_TOKEN=TELEGRAM_SECRET,
                    TELEGRAM_BOT_NAME=USERNAME, TELEGRAM_API_BASE_URL=fake.base_url,
                    TELEGRAM_WEBHOOK_URL="https://shop.example/webhooks/telegram/webhook")
    env.pop("REDIS_URL", None)
    prepare_features(env)
    complainers = add_complainers(env["DATABASE_URL"], complaints)
    stack = Stack(workdir, model, env)
    traffic = Traffic(stack, fake, 0.0, random.Random(seed), think_s=think_s)
    traffic.ledger.complainers = {c: channel for c, (channel, _) in complainers.items()}
    try:
        stack.start()
        started = time.monotonic()
        traffic.end = started + minutes * 60
        asyncio.run(drive(traffic, users, complainers, minutes * 60))
        wait_telegram(stack, traffic.ledger)
        elapsed = time.monotonic() - started
    finally:
        stack.close()
        fake.close()
    return count(traffic, stack, fake, elapsed, minutes, users, complaints)


def count(traffic: Traffic, stack: Stack, fake: FakeBotApi, elapsed: float, minutes: float,
          users: dict[str, int], complaints: int) -> dict[str, Any]:
    """The report of a finished run (see :mod:`bench.soak_count`)."""
    ledger = traffic.ledger
    conversations = stored_conversations(stack.workdir / "tracker.db")
    messages = count_messages(ledger, conversations)
    chats = {s.sender for s in ledger.sent if s.channel == "telegram"}
    sent_texts = {chat: fake.texts(int(chat.split(":")[1])) for chat in chats}
    tabs = {tab.name: tab_problems(tab, conversations.get(tab_session(tab), []))
            for tab in ledger.tabs}
    turns_stored = sum(len(turns) for turns in conversations.values())
    return {
        "minutes": minutes, "elapsed_s": round(elapsed, 1), "users": users,
        "complaining_customers": complaints, "disconnects": ledger.disconnects,
        "turns_stored": turns_stored,
        "turns_per_s": round(turns_stored / max(elapsed, 1e-9), 2),
        "messages": messages,
        "replies": {
            "rest_problems": rest_reply_problems(ledger, conversations),
            "telegram_problems": telegram_reply_problems(sent_texts, conversations),
            "telegram_sent": sum(map(len, sent_texts.values())),
            "tabs": len(tabs), "tabs_complete": sum(not p for p in tabs.values()),
            "tab_connections": sum(len(t.connections) for t in ledger.tabs),
            "tab_replies_owed": sum(len(turn.replies) for tab in ledger.tabs
                                    for turn in conversations.get(tab_session(tab), [])),
            "tab_replies_live": sum(c.count("bot_uttered") for tab in ledger.tabs
                                    for _, c in tab.connections),
            "tab_replies_resumed": sum(item.get("from") == "bot" for tab in ledger.tabs
                                       for confirmed, _ in tab.connections
                                       for item in confirmed.get("history") or []),
            "tab_problems": [p for found in tabs.values() for p in found][:50],
        },
        "tickets": ticket_counts(stack.env["DATABASE_URL"], ledger, conversations),
        "logs": log_counts([stack.log("rasa"), stack.log("actions")], turns_stored),
        "client_errors": ledger.errors[:50],
    }


def tab_session(tab: Any) -> str:  # noqa: ANN401
    """The session id a :class:`~bench.soak_traffic.SoakTab` joined (``""``: none)."""
    return str(tab.connections[0][0]["session_id"]) if tab.connections else ""


def report_ok(report: dict[str, Any]) -> bool:
    """Nothing lost, stored twice or unanswered, one ticket per complaining customer, no
    traceback in the logs and no client-side error."""
    every = report["messages"]["all"]
    replies, tickets = report["replies"], report["tickets"]
    return (every["lost"] == every["twice"] == every["unaccepted"] == 0
            and every["stored_unknown"] == 0
            and every["stored"] == every["accepted"] > 0
            and not replies["rest_problems"] and not replies["telegram_problems"]
            and replies["tabs_complete"] == replies["tabs"]
            and not tickets["problems"] and tickets["tickets"] == tickets["customers"]
            and report["logs"]["tracebacks"] == 0 and not report["client_errors"])


def table(report: dict[str, Any]) -> str:
    """The report as a plain-text table."""
    rows = [f"soak: {report['minutes']} min, {report['elapsed_s']} s with the drain, "
            f"{report['turns_stored']} turns stored ({report['turns_per_s']}/s), "
            f"{report['disconnects']} tab disconnects",
            f"{'channel':<10}{'sent':>7}{'tries':>7}{'accepted':>9}{'stored 1x':>10}"
            f"{'lost':>6}{'twice':>7}{'not acc.':>9}{'dup. ans.':>10}"]
    for channel, c in report["messages"].items():
        rows.append(f"{channel:<10}{c['sent']:>7}{c['attempts']:>7}{c['accepted']:>9}"
                    f"{c['stored']:>10}{c['lost']:>6}{c['twice']:>7}{c['unaccepted']:>9}"
                    f"{c['duplicate_answers']:>10}")
    r, t, logs = report["replies"], report["tickets"], report["logs"]
    rows += [
        f"widget tabs complete: {r['tabs_complete']} of {r['tabs']} "
        f"({r['tab_connections']} connections; replies owed {r['tab_replies_owed']}, "
        f"received live {r['tab_replies_live']}, in resumed histories "
        f"{r['tab_replies_resumed']}); REST answers differing from the store: "
        f"{len(r['rest_problems'])}; Telegram chats differing: {len(r['telegram_problems'])} "
        f"({r['telegram_sent']} texts sent)",
        f"complaints: {t['complaints']} from {t['customers']} customers -> {t['tickets']} "
        f"double_charge tickets (tickets per customer: {t['per_customer']}); "
        f"problems: {len(t['problems'])}",
        f"logs: {logs['lines']} lines, {logs['per_turn']} per turn; tracebacks "
        f"{logs['tracebacks']}, ERROR lines {logs['errors']}, "
        f"'Task was destroyed but it is pending!' {logs['pending_task']}, Sanic's "
        f"asyncio.wait warning {logs['sanic_wait_warning']}",
        f"client errors: {len(report['client_errors'])}",
        "OK: nothing lost or twice" if report_ok(report) else "FAILED",
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring); returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rest", type=int, default=3, help="concurrent REST customers")
    parser.add_argument("--widget", type=int, default=3, help="concurrent widget sessions")
    parser.add_argument("--telegram", type=int, default=2, help="concurrent Telegram chats")
    parser.add_argument("--complaints", type=int, default=None,
                        help="complaining customers (default: one per minute, at least 3)")
    parser.add_argument("--think", type=float, default=2.0, help="mean pause between turns, s")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=OUT)
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="touchline-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    users = {"rest": args.rest, "widget": args.widget, "telegram": args.telegram}
    complaints = args.complaints if args.complaints is not None else max(3, round(args.minutes))
    report = soak(args.minutes, users, complaints, workdir, args.model, think_s=args.think)
    report["workdir"] = str(workdir)
    print(table(report))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    return 0 if report_ok(report) else 1


if __name__ == "__main__":
    sys.exit(main())
