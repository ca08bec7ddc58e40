"""Widget history pages read from a real SQL tracker store, off the event loop."""

from __future__ import annotations

import asyncio
import threading

import sqlalchemy as sa
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

from bot.dialogue.conversation_reads import has_user_message, replies_after
from connectors.widget_history import CLIENT_ID, history_page
from tests.dialogue.test_tracker_store import store

TURNS = 130


async def long_conversation(s, sender: str) -> None:
    """A greeting before the first user message, then :data:`TURNS` turns; turn 7 was
    spoken and every turn carries the widget's message id."""
    tracker = await s.get_or_create_tracker(sender)
    tracker.update(BotUttered("welcome"))
    for i in range(TURNS):
        tracker.update(UserUttered(f"question {i}", {"name": "greet", "confidence": 1.0},
                                   input_channel="voice" if i == 7 else "socketio",
                                   metadata={CLIENT_ID: f"message-id-{i:04d}"}))
        tracker.update(BotUttered(f"answer {i}"))
        tracker.update(ActionExecuted("action_listen"))
    await s.save(tracker)


def test_resume_sends_the_last_turns_and_older_pages_on_request(tmp_path, env):
    env.set("TOUCHLINE_WIDGET_HISTORY_TURNS", "50")
    s = store(tmp_path)
    wrapped = FailSafeTrackerStore(s)  # as Rasa hands it to the channels
    asyncio.run(long_conversation(s, "long"))

    pages = [asyncio.run(history_page(wrapped, "long"))]
    while pages[-1]["more"]:
        pages.append(asyncio.run(history_page(wrapped, "long", pages[-1]["before"])))
    users = [[m["text"] for m in p["history"] if m["from"] == "user"] for p in pages]
    assert [len(u) for u in users] == [50, 50, 30]
    assert users[0][0] == "question 80" and users[0][-1] == f"question {TURNS - 1}"
    shown = [m for p in reversed(pages) for m in p["history"]]
    assert shown[0] == {"from": "bot", "text": "welcome"}  # the oldest page starts at the start
    assert [m["text"] for m in shown[1:]] == [
        text for i in range(TURNS) for text in (f"question {i}", f"answer {i}")]
    assert shown[1 + 2 * 7] == {"from": "user", "text": "question 7", "spoken": True,
                                "id": "message-id-0007"}
    assert pages[-1]["before"] is None
    assert asyncio.run(history_page(wrapped, "unknown")) == {
        "history": [], "more": False, "before": None}


def test_history_and_message_look_ups_read_the_database_off_the_event_loop(tmp_path):
    s = store(tmp_path)
    asyncio.run(long_conversation(s, "long"))
    readers: list[int] = []
    sa.event.listen(s.engine, "before_cursor_execute",
                    lambda *_: readers.append(threading.get_ident()))

    async def resume() -> int:
        await history_page(s, "long")
        return threading.get_ident()

    loop_thread = asyncio.run(resume())
    assert readers, "the history was not read from the database"
    assert loop_thread not in readers


def test_a_stored_message_id_is_found_exactly(tmp_path):
    s = store(tmp_path)
    asyncio.run(long_conversation(s, "long"))
    assert has_user_message(s, "long", CLIENT_ID, "message-id-0042")
    assert not has_user_message(s, "long", CLIENT_ID, "message-id-042")
    assert not has_user_message(s, "long", CLIENT_ID, "message_id_0042")  # "_" is no wildcard
    assert not has_user_message(s, "other", CLIENT_ID, "message-id-0042")


def test_the_replies_to_a_stored_message_are_those_before_the_next_user_message(tmp_path):
    """What the REST channel answers a resent message with (``replies_after``)."""
    s = store(tmp_path)
    asyncio.run(long_conversation(s, "long"))
    assert [e.text for e in replies_after(s, "long", CLIENT_ID, "message-id-0042")] == [
        "answer 42"]
    last = replies_after(s, "long", CLIENT_ID, f"message-id-{TURNS - 1:04d}")
    assert [e.text for e in last] == [f"answer {TURNS - 1}"]
    assert replies_after(s, "long", CLIENT_ID, "message-id-042") is None
    assert replies_after(s, "other", CLIENT_ID, "message-id-0042") is None
