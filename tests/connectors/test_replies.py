from bot.store.db import session_scope
from bot.store.tickets import open_ticket
from connectors.replies import APOLOGY, ensure_reply, run_turn


def test_messages_pass_through(db_url):
    msgs = [{"recipient_id": "a", "text": "hi"}]
    assert ensure_reply("a", msgs) is msgs


def test_silent_turn_gets_an_apology(db_url):
    assert ensure_reply("nobody", []) == [{"recipient_id": "nobody", "text": APOLOGY}]


def test_takeover_silence_is_kept(db_url):
    with session_scope() as s:
        open_ticket(s, "held", None, "handoff", "x", takeover=True)
    assert ensure_reply("held", []) == []


def test_database_down_still_apologises(tmp_path, env):
    env.set("DATABASE_URL", f"sqlite:///{tmp_path}/missing-dir/x.db")
    assert ensure_reply("x", [])[0]["text"] == APOLOGY


def test_a_failed_turn_logs_a_bounded_traceback(db_url, caplog):
    import asyncio
    import copy

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
