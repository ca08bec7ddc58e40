"""Counting a soak run (:mod:`bench.soak`): the customers' :class:`~bench.soak_traffic.Ledger`
against what the stack stored, delivered and logged.

* **Messages**: every accepted message must be stored exactly once in the tracker store
  (user events matched by ``metadata.telegram.update_id``, else ``metadata.soak_id`` or
  ``metadata.client_id``); a stored message nobody accepted is counted too.
* **Replies**: a REST answer must hold the bot messages stored after its user event; a
  Telegram chat must have been sent the texts stored for it, in order; every widget tab
  must show the whole conversation, whole turns in order (:func:`tab_problems`).
* **Tickets**: one ``double_charge`` ticket per complaining customer, and every reply to a
  complaint names that ticket.
* **Logs**: lines per turn in the Rasa and action servers' logs, tracebacks, errors, and
  Sanic's "Task was destroyed but it is pending!" on closed WebSockets.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.soak_traffic import COMPLAINT, Ledger, Sent, SoakTab
from bot.store.db import session_scope
from bot.store.models import Ticket
from testing.sio_client import turns

PENDING_TASK = "Task was destroyed but it is pending!"
"""What asyncio logs when Sanic 21.12 drops a WebSocket's pending receive at close."""
SANIC_WAIT_WARNING = "explicit passing of coroutine objects to asyncio.wait()"
"""Sanic 21.12's ``WebsocketImplProtocol.recv`` warns (two lines) on Python 3.10."""
TICKET = re.compile(r"ticket #(\d+)")


@dataclass
class StoredTurn:
    """A user event and the bot messages stored after it (before the next user event)."""

    key: str | None
    text: str
    replies: list[str] = field(default_factory=list)


def message_key(metadata: dict[str, Any]) -> str | None:
    """The soak's id of a stored user message (see the module docstring)."""
    telegram = metadata.get("telegram")  # its client_id is derived from the update id
    if isinstance(telegram, dict) and telegram.get("update_id") is not None:
        return str(telegram["update_id"])
    for key in ("soak_id", "client_id"):
        if isinstance(metadata.get(key), str):
            return str(metadata[key])
    return None


def stored_conversations(tracker_db: Path) -> dict[str, list[StoredTurn]]:
    """Every conversation of Rasa's SQL tracker store, as turns in the order stored.

    Args:
        tracker_db: the SQLite file (opened read-only).

    Returns:
        ``sender_id`` -> turns; bot messages before the first user message form a turn of
        key ``None``.
    """
    conversations: dict[str, list[StoredTurn]] = defaultdict(list)
    with sqlite3.connect(f"file:{tracker_db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT sender_id, type_name, data FROM events "
                            "WHERE type_name IN ('user', 'bot') ORDER BY id").fetchall()
    for sender, kind, data in rows:
        event = json.loads(data)
        if kind == "user":
            conversations[sender].append(StoredTurn(message_key(event.get("metadata") or {}),
                                                    str(event.get("text") or "")))
        else:
            if not conversations[sender]:
                conversations[sender].append(StoredTurn(None, ""))
            conversations[sender][-1].replies.append(str(event.get("text") or ""))
    return dict(conversations)


def count_messages(ledger: Ledger,
                   conversations: dict[str, list[StoredTurn]]) -> dict[str, dict[str, int]]:
    """Per channel: ``sent`` (messages), ``attempts`` (with resends and redeliveries),
    ``accepted``, ``stored`` (accepted and stored exactly once), ``lost`` (accepted, not
    stored), ``twice`` (stored more than once), ``unaccepted`` (never accepted),
    ``duplicate_answers`` (resends the server recognised), ``stored_unaccepted`` (stored
    but never accepted: a turn whose answer was cut off), ``stored_unknown`` (stored user
    messages of the soak's conversations that no customer sent)."""
    stored = Counter(turn.key for turns_ in conversations.values() for turn in turns_
                     if turn.key is not None)
    counts: dict[str, dict[str, int]] = {}
    for channel in ("rest", "widget", "telegram"):
        mine = [s for s in ledger.sent if s.channel == channel]
        counts[channel] = {
            "sent": len(mine),
            "attempts": sum(s.attempts for s in mine),
            "accepted": sum(s.accepted for s in mine),
            "stored": sum(s.accepted and stored[s.key] == 1 for s in mine),
            "lost": sum(s.accepted and stored[s.key] == 0 for s in mine),
            "twice": sum(stored[s.key] > 1 for s in mine),
            "unaccepted": sum(not s.accepted for s in mine),
            "stored_unaccepted": sum(not s.accepted and stored[s.key] > 0 for s in mine),
            "duplicate_answers": sum(s.duplicates for s in mine),
        }
    known = {s.key for s in ledger.sent}
    senders = {s.sender for s in ledger.sent}
    counts["all"] = {k: sum(c[k] for c in counts.values()) for k in counts["rest"]}
    counts["all"]["stored_unknown"] = sum(
        1 for sender in senders for turn in conversations.get(sender, [])
        if turn.key is not None and turn.key not in known)
    return counts


def rest_reply_problems(ledger: Ledger,
                        conversations: dict[str, list[StoredTurn]]) -> list[str]:
    """REST answers that differ from the bot messages stored for their turn."""
    by_key = {t.key: t for turns_ in conversations.values() for t in turns_}
    return [f"rest {s.key}: answered {s.replies}, stored {by_key[s.key].replies}"
            for s in ledger.sent
            if s.channel == "rest" and s.accepted and s.key in by_key
            and s.replies != by_key[s.key].replies]


def telegram_reply_problems(sent_texts: dict[str, list[str]],
                            conversations: dict[str, list[StoredTurn]]) -> list[str]:
    """Telegram chats whose sent texts differ from the bot messages stored for them.

    Args:
        sent_texts: ``telegram:<chat>`` -> the texts the Bot API was asked to send.
    """
    problems = []
    for sender, texts in sent_texts.items():
        stored = [r for turn in conversations.get(sender, []) for r in turn.replies]
        if texts != stored:
            problems.append(f"{sender}: sent {len(texts)} texts, stored {len(stored)}")
    return problems


def view(history: list[dict[str, Any]]) -> list[StoredTurn]:
    """The turns of a resumed history (``session_confirm``)."""
    found: list[StoredTurn] = []
    for item in history:
        if item.get("from") == "user":
            found.append(StoredTurn(item.get("id"), str(item.get("text") or "")))
        elif item.get("from") == "bot":
            if not found:
                found.append(StoredTurn(None, ""))
            found[-1].replies.append(str(item.get("text") or ""))
    return found


def tab_problems(tab: SoakTab, conversation: list[StoredTurn]) -> list[str]:
    """How a tab's view of its session differs from the stored conversation.

    Each connection shows the history it resumed with, then whole turns in order, each
    the next stored turn: its echo (for a message another connection sent) carries the
    stored message's id, a turn without echo is one this tab sent, and its replies are
    the stored ones.  Every connection's view is a prefix of the conversation (only its
    last turn may be cut when it dropped); the last connection's view is all of it.
    """
    problems = []
    for c, (confirmed, connection) in enumerate(tab.connections):
        final = c == len(tab.connections) - 1
        history = view(confirmed.get("history") or [])
        live, broken = turns(connection.events)
        if not final:
            broken = [p for p in broken if "not followed by its turn" not in p]
        problems += [f"{tab.name} connection {c}: {p}" for p in broken]
        seen = len(history) + len(live)
        if seen > len(conversation) or (final and seen < len(conversation)):
            problems.append(f"{tab.name} connection {c}: {seen} turns, "
                            f"{len(conversation)} stored")
        for k, (got, want) in enumerate(zip(history, conversation)):
            if (got.key, got.replies) != (want.key, want.replies):
                problems.append(f"{tab.name} connection {c}: history turn {k} differs")
        for k, (got, want) in enumerate(zip(live, conversation[len(history):])):
            mine = got.echo is None and want.key in tab.own
            if not (mine or got.echo == want.key):
                problems.append(f"{tab.name} connection {c}: turn {len(history) + k} "
                                f"is {got.echo!r}, stored {want.key!r}")
            cut = not got.whole and not final and k == len(live) - 1
            replies = want.replies[:len(got.replies)] if cut else want.replies
            if got.replies != replies or (final and not got.whole):
                problems.append(f"{tab.name} connection {c}: turn {len(history) + k} "
                                f"replies {got.replies}, stored {want.replies}")
    return problems


def ticket_counts(database_url: str, ledger: Ledger,
                  conversations: dict[str, list[StoredTurn]]) -> dict[str, Any]:
    """``double_charge`` tickets of the complaining customers.

    Returns:
        ``customers``, ``complaints`` (messages accepted), ``tickets`` (opened for them),
        ``per_customer`` (``{tickets: customers}``) and ``problems``: a customer with
        other than one ticket, a complaint reply naming another ticket or none.
    """
    with session_scope(database_url) as session:
        opened = session.scalars(select(Ticket).where(Ticket.reason == "double_charge")).all()
        tickets = defaultdict(list)
        for ticket in opened:
            tickets[ticket.customer_id].append((ticket.id, ticket.sender_id))
    problems = []
    for customer in ledger.complainers:
        if len(tickets[customer]) != 1:
            problems.append(f"customer {customer}: tickets {tickets[customer]}")
            continue
        number, sender = tickets[customer][0]
        for turn in conversations.get(sender, []):
            if turn.text == COMPLAINT:
                named = {int(n) for r in turn.replies for n in TICKET.findall(r)}
                if named != {number}:
                    problems.append(f"customer {customer}: a reply names tickets {named}, "
                                    f"opened #{number}")
    complaints: list[Sent] = [s for s in ledger.sent if s.text == COMPLAINT and s.accepted]
    return {
        "customers": len(ledger.complainers),
        "complaints": len(complaints),
        "tickets": sum(len(tickets[c]) for c in ledger.complainers),
        "per_customer": dict(Counter(len(tickets[c]) for c in ledger.complainers)),
        "problems": problems,
    }


def log_counts(logs: list[Path], turns_stored: int) -> dict[str, Any]:
    """Lines of the servers' logs: in all, per stored turn, tracebacks, ``ERROR`` lines,
    :data:`PENDING_TASK` lines, and Sanic's :data:`SANIC_WAIT_WARNING` (its two lines)."""
    lines = [line for path in logs if path.exists()
             for line in path.read_text(errors="replace").splitlines()]
    return {
        "lines": len(lines),
        "per_turn": round(len(lines) / max(turns_stored, 1), 3),
        "tracebacks": sum("Traceback (most recent call last)" in line for line in lines),
        "errors": sum(" ERROR " in line or line.startswith("ERROR") for line in lines),
        "pending_task": sum(PENDING_TASK in line for line in lines),
        "sanic_wait_warning": 2 * sum(SANIC_WAIT_WARNING in line for line in lines),
        "error_samples": [line[:300] for line in lines
                          if " ERROR " in line or "Traceback" in line][:10],
    }
