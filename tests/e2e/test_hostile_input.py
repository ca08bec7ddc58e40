"""What a customer typed is shown as typed, minus control characters (REST, widget, ticket
summary), and hostile metadata costs nothing (a 400, a few log lines, the next message
works): items 7 and 8 of issue #19, against the running stack."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from sqlalchemy import select

from bot.store.db import session_scope
from bot.store.models import Ticket
from testing.stack import texts
from tests.e2e.test_workers import Tab

pytestmark = pytest.mark.slow

CONTROLS = "\x00\x01\x07\x08\x0b\x0c\x1b[31m\x7f\x85\x9f"
"""NUL, other C0 controls (bell, backspace, vertical tab, form feed, an ANSI escape) and
C1 controls."""
TYPED = f"I was charged{CONTROLS} twice\x00 for\tmy order\r\nplease help"
SHOWN = "I was charged[31m twice for\tmy order\nplease help"


def post(stack, metadata_json: str) -> httpx.Response:
    """A REST message whose ``metadata`` is the JSON text given (built as text: Python's
    own encoder cannot write 5,000 levels)."""
    body = '{"sender": "item8", "message": "hi", "metadata": ' + metadata_json + "}"
    return httpx.post(f"{stack.url}/webhooks/rest/webhook", content=body.encode(),
                      headers={"Content-Type": "application/json"}, timeout=60)


def user_events(stack, sender: str) -> list[dict]:
    return [e for e in stack.tracker(sender)["events"] if e["event"] == "user"]


def no_controls(value: str) -> bool:
    return not any(ord(c) < 32 and c not in "\t\n" or 0x7F <= ord(c) <= 0x9F for c in value)


def test_rest_message_with_control_characters_is_stored_and_summarised_clean(stack):
    sender = "item7-rest"
    assert texts(stack.say(sender, TYPED + " /restart"))  # a reply, not an error
    event = user_events(stack, sender)[-1]
    assert event["text"] == SHOWN + " /restart" and "original_text" not in event["metadata"]

    assert texts(stack.say(sender, "I want to talk to a human\x00\x07"))
    with session_scope(stack.env["DATABASE_URL"]) as s:
        ticket = s.scalar(select(Ticket).where(Ticket.sender_id == sender))
        assert ticket is not None and no_controls(ticket.summary)
        assert "I was charged[31m twice for my order please help" in ticket.summary


def test_widget_message_with_control_characters_is_echoed_and_restored_clean(stack):
    async def main() -> None:
        first, session = await Tab.open(stack, None)
        resume = {"session_id": session["session_id"], "token": session["token"]}
        other, _ = await Tab.open(stack, resume)
        await first.emit("user_uttered", {"message": "/restart" + CONTROLS,
                                          "display_text": "Yes\x00\x1b please"})
        echo = await other.next("user_echo")
        assert echo["text"] == "Yes please"
        await first.next("bot_uttered")
        await first.emit("user_uttered", {"message": TYPED})
        assert (await other.next("user_echo"))["text"] == SHOWN
        await first.next("bot_uttered")
        third, restored = await Tab.open(stack, resume)
        users = [m["text"] for m in restored["history"] if m["from"] == "user"]
        assert users[-2:] == ["Yes please", SHOWN]
        for tab in (first, other, third):
            await tab.ws.close()

    asyncio.run(main())


def deep(levels: int) -> str:
    return '{"a": ' * (levels - 1) + "{}" + "}" * (levels - 1)


@pytest.mark.parametrize(
    "metadata, limit",
    [
        (deep(5000), "levels"),
        (deep(900), "levels"),  # below the JSON parser's own depth limit
        (json.dumps({"blob": "x" * 2_000_000}), "characters"),
        (json.dumps({f"k{i}": i for i in range(50_000)}), "characters"),
        ("[1, 2, 3]", "object"),
    ],
    ids=["5000-levels", "900-levels", "2MB-string", "50k-keys", "not-an-object"],
)
def test_hostile_metadata_gets_a_400_and_costs_a_few_log_lines(stack, metadata, limit):
    log = stack.log("rasa")
    before = log.read_text().count("\n")
    response = post(stack, metadata)
    assert response.status_code == 400 and limit in response.json()["error"]
    assert log.read_text().count("\n") - before <= 5
    assert texts(stack.say("item8", "where is my order TL-10001?"))
