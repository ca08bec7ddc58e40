"""The turn every channel runs: conversation ids and their namespaces, the keyed lock, the
takeover check, and the apology for a turn that was silent by accident."""

from __future__ import annotations

import asyncio
import copy

import pytest

from bot.dialogue import turn
from bot.dialogue.turn import (
    ConversationId,
    KeyedLock,
    Namespace,
    ensure_reply,
    held_by_person,
    run_turn,
)
from bot.store.db import session_scope
from bot.store.tickets import open_ticket
from bot.support.wording import APOLOGY


@pytest.mark.parametrize(("conversation", "text"), [
    (ConversationId.telegram(-100123), "telegram:-100123"),
    (ConversationId.phone_call("CA1"), "voice:CA1"),
    (ConversationId.call_stream("CA1"), "call:CA1"),
    (ConversationId(None, "web-42"), "web-42"),
])
def test_ids_are_written_and_read_back(conversation, text):
    assert str(conversation) == text
    assert ConversationId.parse(text) == conversation


def test_only_exact_namespaces_parse_and_any_case_is_reserved():
    assert ConversationId.parse("Telegram:5") == ConversationId(None, "Telegram:5")
    assert ConversationId.parse("telegram") == ConversationId(None, "telegram")
    assert ConversationId.parse("voicemail:1").namespace is None
    assert ConversationId.parse("voice:").namespace is Namespace.PHONE_CALL
    for reserved in ("telegram:1", "TELEGRAM:x", "Voice:CA1", "call:"):
        assert ConversationId.is_reserved(reserved)
    for free in ("web-42", "telegram", "voicemail:1", "caller:1"):
        assert not ConversationId.is_reserved(free)


def test_a_telegram_conversation_has_its_chat_id():
    assert ConversationId.parse("telegram:-100123").chat_id == -100123
    for other in ("web:123", "voice:5", "telegram:abc"):
        with pytest.raises(ValueError):
            _ = ConversationId.parse(other).chat_id


def test_the_keyed_lock_runs_one_key_in_arrival_order_and_forgets_idle_keys():
    async def main() -> list[str]:
        lock, order = KeyedLock(), []

        async def turn(key: str, name: str, pause: float) -> None:
            async with lock.hold(key):
                order.append(f"{name}+")
                await asyncio.sleep(pause)
                order.append(f"{name}-")

        first = asyncio.create_task(turn("a", "a1", 0.05))
        await asyncio.sleep(0)
        tasks = [asyncio.create_task(turn("a", f"a{i}", 0)) for i in (2, 3)]
        other = asyncio.create_task(turn("b", "b1", 0.05))
        await asyncio.sleep(0.01)
        assert len(lock) == 2  # both keys in use while a1 holds "a"
        await asyncio.gather(first, *tasks, other)
        assert len(lock) == 0
        return order

    order = asyncio.run(main())
    a_turns = [step for step in order if step.startswith("a")]
    assert a_turns == ["a1+", "a1-", "a2+", "a2-", "a3+", "a3-"]
    assert order.index("b1+") < order.index("a1-")  # another key does not wait


def test_a_failed_or_cancelled_holder_releases_its_key():
    async def main() -> None:
        lock = KeyedLock()
        with pytest.raises(RuntimeError):
            async with lock.hold("k"):
                raise RuntimeError("turn failed")
        holder = asyncio.create_task(_hold_forever(lock))
        await asyncio.sleep(0)
        waiter = asyncio.create_task(_hold_forever(lock))
        await asyncio.sleep(0)
        waiter.cancel()
        holder.cancel()
        await asyncio.gather(holder, waiter, return_exceptions=True)
        assert len(lock) == 0
        async with lock.hold("k"):
            pass

    asyncio.run(main())


async def _hold_forever(lock: KeyedLock) -> None:
    async with lock.hold("k"):
        await asyncio.Event().wait()


def test_messages_pass_through(db_url):
    msgs = [{"recipient_id": "a", "text": "hi"}]
    assert ensure_reply("a", msgs) is msgs


def test_silent_turn_gets_an_apology(db_url):
    assert ensure_reply("nobody", []) == [{"recipient_id": "nobody", "text": APOLOGY}]


def test_takeover_silence_is_kept(db_url):
    with session_scope() as s:
        open_ticket(s, "telegram:7", None, "handoff", "x", takeover=True)
    assert ensure_reply("telegram:7", []) == []
    assert asyncio.run(held_by_person(ConversationId.telegram(7))) is True
    assert asyncio.run(held_by_person("telegram:8")) is False


def test_database_down_still_apologises(tmp_path, env):
    env.set("DATABASE_URL", f"sqlite:///{tmp_path}/missing-dir/x.db")
    assert ensure_reply("x", [])[0]["text"] == APOLOGY
    assert asyncio.run(held_by_person("x")) is False


def test_a_turn_reaches_rasa_under_its_conversation_id(db_url):
    seen = []

    async def rasa(message) -> None:
        seen.append((message.sender_id, message.text, message.input_channel, message.metadata))
        await message.output_channel.send_text_message(message.sender_id, "Hello!")

    replies = asyncio.run(run_turn(rasa, "hi", ConversationId.telegram(5), "telegram",
                                   {"a": 1}))
    assert seen == [("telegram:5", "hi", "telegram", {"a": 1})]
    assert replies == [{"recipient_id": "telegram:5", "text": "Hello!"}]


def test_a_failed_turn_logs_a_bounded_traceback(db_url, caplog):
    deep: dict = {}
    for _ in range(5000):
        deep = {"a": deep}

    async def rasa_copies_the_metadata(message) -> None:  # what Rasa 3.6 did with it
        copy.deepcopy(message.metadata)

    replies = asyncio.run(run_turn(rasa_copies_the_metadata, "hi", "deep", "rest",
                                   {"payload": deep, "blob": "x" * 100_000}))
    assert replies == [{"recipient_id": "deep", "text": APOLOGY}]
    logged = caplog.text  # messages and any traceback, as the log file gets them
    assert "RecursionError" in logged and "message from deep could not be processed" in logged
    assert logged.count("\n") < 80 and len(logged) < 5000


def test_a_turn_that_fails_after_answering_gets_the_apology_not_the_answer(db_url):
    async def rasa_whose_save_fails(message) -> None:  # Rasa answers, then saving fails
        await message.output_channel.send_text_message(message.sender_id, "Your order...")
        raise ConnectionError("the database system is shutting down")

    replies = asyncio.run(run_turn(rasa_whose_save_fails, "where is my order?", "unsaved",
                                   "rest", {}))
    assert replies == [{"recipient_id": "unsaved", "text": APOLOGY}]


def test_a_stuck_turn_is_cancelled_with_where_it_waited_and_gets_the_apology(
        db_url, monkeypatch, caplog):
    monkeypatch.setattr(turn, "TURN_TIMEOUT_S", 0.3)
    state: dict[str, object] = {}

    async def wait_for_a_lock_nobody_releases(lock: asyncio.Lock) -> None:
        async with lock:
            pass

    async def stuck_rasa(message) -> None:
        await message.output_channel.send_text_message(message.sender_id, "Looking...")
        lock = asyncio.Lock()
        await lock.acquire()
        try:
            await wait_for_a_lock_nobody_releases(lock)
        except asyncio.CancelledError:
            state["cancelled"] = True
            raise

    async def main() -> list:
        replies = await run_turn(stuck_rasa, "hi", "stuck", "rest", {})
        state["slots free"] = turn._turn_slots()._value  # type: ignore[union-attr]
        return replies

    assert asyncio.run(main()) == [{"recipient_id": "stuck", "text": APOLOGY}]
    assert state == {"cancelled": True, "slots free": 4}
    logged = caplog.text
    assert "message from stuck could not be processed" in logged
    assert "TurnTimeout: still running after 0 s, cancelled" in logged
    assert "in stuck_rasa\n" in logged and "in wait_for_a_lock_nobody_releases" in logged
