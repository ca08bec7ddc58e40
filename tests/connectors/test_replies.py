from bot.store.db import session_scope
from bot.store.tickets import open_ticket
from connectors.replies import APOLOGY, ensure_reply


def test_messages_pass_through(db_url):
    msgs = [{"recipient_id": "a", "text": "hi"}]
    assert ensure_reply("a", msgs) is msgs


def test_silent_turn_gets_an_apology(db_url):
    assert ensure_reply("nobody", []) == [{"recipient_id": "nobody", "text": APOLOGY}]


def test_takeover_silence_is_kept(db_url):
    with session_scope() as s:
        open_ticket(s, "held", None, "handoff", "x", takeover=True)
    assert ensure_reply("held", []) == []


def test_database_down_still_apologises(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/missing-dir/x.db")
    assert ensure_reply("x", [])[0]["text"] == APOLOGY
