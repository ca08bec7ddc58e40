import asyncio

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.config import PROJECT_ROOT
from bot.dialogue.tracker_store import MAX_EVENTS, WindowedSQLTrackerStore

DOMAIN = Domain.load(PROJECT_ROOT / "domain.yml")


def store(tmp_path):
    return WindowedSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "t.db"))


async def turn(s, sender, i):
    tracker = await s.get_or_create_tracker(sender)
    tracker.update(UserUttered(f"message {i}", {"name": "greet", "confidence": 1.0}))
    tracker.update(ActionExecuted("utter_greet"))
    tracker.update(BotUttered(f"reply {i}"))
    if i == 3:
        tracker.update(SlotSet("customer_id", 42))
        tracker.update(ActiveLoop("order_status_form"))
    if i % 10 == 0:
        tracker.update(SlotSet("order_id", f"TL-1{i:04d}"))
    tracker.update(ActionExecuted("action_listen"))
    await s.save(tracker)


def test_working_tracker_is_bounded_and_history_complete(tmp_path):
    s = store(tmp_path)

    async def main():
        for i in range(200):
            await turn(s, "long", i)
        working = await s.retrieve("long")
        full = await s.retrieve_full_tracker("long")
        return working, full

    working, full = asyncio.run(main())
    assert len(working.events) <= MAX_EVENTS + len(DOMAIN.slots) + 3
    users = [e.text for e in full.events if isinstance(e, UserUttered)]
    assert users == [f"message {i}" for i in range(200)]  # nothing lost, nothing doubled
    assert working.current_slot_values() == full.current_slot_values()
    assert working.get_slot("customer_id") == 42 and working.get_slot("order_id") == "TL-10190"
    assert working.active_loop_name == full.active_loop_name == "order_status_form"
    assert working.latest_message.text == "message 199"


def test_new_store_process_reads_what_an_old_one_wrote(tmp_path):
    async def main():
        first = store(tmp_path)
        for i in range(150):
            await turn(first, "c", i)
        second = store(tmp_path)  # e.g. after a restart: empty cache
        await turn(second, "c", 150)
        return await second.retrieve("c"), await second.retrieve_full_tracker("c")

    working, full = asyncio.run(main())
    assert len([e for e in full.events if isinstance(e, UserUttered)]) == 151
    assert working.latest_message.text == "message 150"
    assert working.get_slot("customer_id") == 42


def test_two_processes_take_turns_on_one_conversation(tmp_path):
    # Two Sanic workers: each has its own cache over the same database (the lock store
    # keeps their turns apart). Each must see the turns the other stored.
    async def main():
        workers = [store(tmp_path), store(tmp_path)]
        for i in range(160):  # past MAX_EVENTS: both windows are cut on the way
            await turn(workers[(i // 3) % 2], "shared", i)
        return [await w.retrieve("shared") for w in workers], await workers[
            0
        ].retrieve_full_tracker("shared")

    (first, second), full = asyncio.run(main())
    users = [e.text for e in full.events if isinstance(e, UserUttered)]
    assert users == [f"message {i}" for i in range(160)]  # nothing lost, nothing doubled
    for working in (first, second):
        assert working.latest_message.text == "message 159"
        assert working.current_slot_values() == full.current_slot_values()
        assert len(working.events) <= MAX_EVENTS + len(DOMAIN.slots) + 3


def test_a_new_conversation_started_elsewhere_is_seen(tmp_path):
    async def main():
        a, b = store(tmp_path), store(tmp_path)
        assert await a.retrieve("late") is None  # cached as "nothing stored"
        await turn(b, "late", 0)
        return await a.retrieve("late")

    tracker = asyncio.run(main())
    assert tracker is not None and tracker.latest_message.text == "message 0"


CARD = "4111 1111 1111 1111"
CARD_DIGITS = "4111111111111111"


def paying_turn(tracker):
    """A turn in which the customer typed a card number, the way the channels store it."""
    typed = f"my card {CARD} was declined, cvv 737"
    tracker.update(UserUttered(
        typed, {"name": "payment_issue", "confidence": 1.0},
        parse_data={"text": typed, "intent": {"name": "payment_issue", "confidence": 1.0},
                    "entities": []},
        metadata={"original_text": typed, "display_text": typed}))
    tracker.update(SlotSet("search_query", CARD_DIGITS))
    tracker.update(ActionExecuted("action_listen"))


def test_payment_data_is_redacted_in_the_database_and_the_broker(tmp_path):
    from rasa.core.brokers.sql import SQLEventBroker

    broker = SQLEventBroker(db=str(tmp_path / "broker.db"))
    s = WindowedSQLTrackerStore(DOMAIN, event_broker=broker, dialect="sqlite",
                                db=str(tmp_path / "t.db"))

    async def main():
        fresh = DialogueStateTracker("fresh", DOMAIN.slots)  # saved without a retrieve first
        paying_turn(fresh)
        await s.save(fresh)
        cached = await s.get_or_create_tracker("cached")  # the usual path: retrieved first
        paying_turn(cached)
        await s.save(cached)
        return cached, await s.retrieve_full_tracker("cached")

    turn_tracker, stored = asyncio.run(main())
    assert CARD in turn_tracker.latest_message.text  # the turn itself saw what was typed
    assert stored.latest_message.text == (
        "my card [card number] was declined, cvv [security code]")
    assert stored.latest_message.metadata["original_text"] == stored.latest_message.text
    assert stored.get_slot("search_query") == "[card number]"
    for name in ("t.db", "broker.db"):
        raw = b"".join(p.read_bytes() for p in tmp_path.glob(f"{name}*"))  # WAL included
        assert b"[card number]" in raw, name
        assert CARD.encode() not in raw and CARD_DIGITS.encode() not in raw, name
        assert b"cvv 737" not in raw, name
