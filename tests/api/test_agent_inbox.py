"""The agent inbox's queue and actions over HTTP: filters, atomic claims (real concurrent
requests against uvicorn), reassigning, the transcript from a real tracker store, the live
queue stream, and what happens when the Rasa server cannot take a message."""

from __future__ import annotations

import json
import threading

import httpx
import pytest
from fastapi.testclient import TestClient
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import select

from bot.api.app import create_app
from bot.store import agents
from bot.store.db import session_scope
from bot.store.models import AgentAction, Customer, Ticket
from bot.store.tickets import open_ticket
from testing.fake_twilio import ACCOUNT_SID, FakeTwilio
from testing.stack import free_port
from tests.live_http import serve

PASSWORD = "correct horse battery"
XSS = '<img src=x onerror="document.title=\'pwned\'"><script>alert(1)</script>'


def make_agent(email: str, role: str = "agent") -> int:
    with session_scope() as s:
        return agents.create_agent(s, email.split("@")[0].title(), email, PASSWORD, role).id


def sign_in(client, email: str) -> dict[str, str]:
    r = client.post("/agent/api/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"]}


def handoff(sender: str, customer_id: int | None = None) -> int:
    with session_scope() as s:
        return open_ticket(s, sender, customer_id, "handoff", "Customer: a person please",
                           takeover=True).ticket.id


@pytest.fixture
def inbox(db_url, env):
    """Two agents and an admin; the Rasa server is a closed port (nothing delivers)."""
    env.set("RASA_AUTH_TOKEN", "rasa-token")
    env.set("TOUCHLINE_RASA_URL", f"http://127.0.0.1:{free_port()}")
    return {"ann": make_agent("ann@shop.example"), "bob": make_agent("bob@shop.example"),
            "ada": make_agent("ada@shop.example", "admin")}


def test_queue_filters_follow_claims_and_closing(inbox):
    first, second = handoff("web-1"), handoff("telegram:42")
    ann = TestClient(create_app())
    csrf = sign_in(ann, "ann@shop.example")
    opened = ann.get("/agent/api/queue").json()
    assert [(t["ticket_id"], t["channel"]) for t in opened] == [(first, "web"),
                                                                (second, "telegram")]
    assert opened[0]["customer_name"] is None and opened[0]["reason"] == "handoff"
    assert ann.post(f"/agent/api/tickets/{first}/claim", headers=csrf).status_code == 200
    assert [t["ticket_id"] for t in ann.get("/agent/api/queue?filter=mine").json()] == [first]
    assert [t["ticket_id"] for t in
            ann.get("/agent/api/queue?filter=unassigned").json()] == [second]
    with session_scope() as s:  # closing is tested end to end; here the filter
        s.get(Ticket, first).status = "closed"
    assert [t["ticket_id"] for t in ann.get("/agent/api/queue?filter=closed").json()] == [first]
    assert ann.get("/agent/api/queue?filter=everything").status_code == 422


def test_two_agents_claiming_at_once_exactly_one_wins(inbox):
    with serve(create_app()) as url:
        clients = [httpx.Client(base_url=url) for _ in range(2)]
        headers = [sign_in(c, e) for c, e in zip(clients, ("ann@shop.example",
                                                           "bob@shop.example"))]
        for round_ in range(8):
            ticket = handoff(f"web-race-{round_}")
            barrier, codes = threading.Barrier(2), [0, 0]

            def claim(i: int, ticket: int = ticket, barrier: threading.Barrier = barrier,
                      codes: list[int] = codes) -> None:
                barrier.wait()
                codes[i] = clients[i].post(f"/agent/api/tickets/{ticket}/claim",
                                           headers=headers[i]).status_code

            threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(codes) == [200, 409], codes
            with session_scope() as s:
                holder = s.get(Ticket, ticket).agent_id
            winner = inbox["ann"] if codes[0] == 200 else inbox["bob"]
            assert holder == winner
        for c in clients:
            c.close()


def test_only_an_admin_reassigns(inbox):
    ticket = handoff("web-2")
    ann, ada = TestClient(create_app()), TestClient(create_app())
    ann_csrf, ada_csrf = sign_in(ann, "ann@shop.example"), sign_in(ada, "ada@shop.example")
    ann.post(f"/agent/api/tickets/{ticket}/claim", headers=ann_csrf)
    assert ann.post(f"/agent/api/tickets/{ticket}/assign", json={"agent_id": inbox["bob"]},
                    headers=ann_csrf).status_code == 403
    assert ada.post(f"/agent/api/tickets/{ticket}/assign", json={"agent_id": inbox["bob"]},
                    headers=ada_csrf).status_code == 200
    assert ada.post(f"/agent/api/tickets/{ticket}/assign", json={"agent_id": 999},
                    headers=ada_csrf).status_code == 404
    with session_scope() as s:
        assert s.get(Ticket, ticket).agent_id == inbox["bob"]
        logged = s.execute(select(AgentAction.agent_id, AgentAction.action,
                                  AgentAction.ticket_id)).all()
    assert (inbox["ann"], "claim", ticket) in logged
    assert (inbox["ada"], "assign", ticket) in logged
    # the former holder can no longer reply; a claim of a held ticket is refused
    assert ann.post(f"/agent/api/tickets/{ticket}/reply", json={"text": "hi"},
                    headers=ann_csrf).status_code == 409
    assert ann.post(f"/agent/api/tickets/{ticket}/claim", headers=ann_csrf).status_code == 409


def test_a_reply_rasa_cannot_take_is_a_clear_502(inbox):
    ticket = handoff("web-3")
    ann = TestClient(create_app())
    csrf = sign_in(ann, "ann@shop.example")
    ann.post(f"/agent/api/tickets/{ticket}/claim", headers=csrf)
    r = ann.post(f"/agent/api/tickets/{ticket}/reply", json={"text": "Hello!"}, headers=csrf)
    assert r.status_code == 502 and "could not be delivered" in r.json()["detail"]
    assert ann.post(f"/agent/api/tickets/{ticket}/reply", json={"text": "   "},
                    headers=csrf).status_code == 422
    assert ann.post(f"/agent/api/tickets/{ticket}/close", json={"resolution": " "},
                    headers=csrf).status_code == 422
    assert ann.post(f"/agent/api/tickets/{ticket}/reply", json={"text": "x" * 4001},
                    headers=csrf).status_code == 422


def test_transcript_and_what_the_bot_knew(inbox, env, tmp_path):
    tracker_db = tmp_path / "tracker.db"
    env.set("TRACKER_DB", str(tracker_db))
    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tracker_db))
    with session_scope() as s:
        frank = s.scalar(select(Customer).where(Customer.email == "frank@example.com"))
        frank_id = frank.id
    tracker = DialogueStateTracker.from_events("web-4", [
        UserUttered("where is TL-10001", input_channel="socketio",
                    metadata={"touchline_verified_customer_id": frank_id}),
        BotUttered("Your order is on its way."),
        UserUttered(XSS, input_channel="socketio"),
        BotUttered("Hi, I'm Sam", metadata={"touchline_agent": {"id": 1, "name": "Sam"}}),
    ])
    import asyncio
    asyncio.run(store.save(tracker))
    ticket = handoff("web-4", frank_id)
    ann = TestClient(create_app())
    sign_in(ann, "ann@shop.example")
    view = ann.get(f"/agent/api/tickets/{ticket}").json()
    assert [(ln["author"], ln["text"]) for ln in view["lines"]] == [
        ("customer", "where is TL-10001"), ("bot", "Your order is on its way."),
        ("customer", XSS), ("agent", "Hi, I'm Sam")]
    assert view["lines"][3]["agent"] == "Sam"
    known = view["known"]
    assert known["customer"]["email"] == "frank@example.com"
    assert "TL-10001" in [o["number"] for o in known["orders"]]
    assert view["ticket"]["customer_name"] == known["customer"]["name"]
    assert ann.get("/agent/api/tickets/999").status_code == 404
    asyncio.run(store.save(DialogueStateTracker.from_events("voice:CA42", [
        UserUttered("a person please", input_channel="voice",
                    metadata={"voice": {"call_sid": "CA42", "from": "+447700900123"}})])))
    call = handoff("voice:CA42")
    view = ann.get(f"/agent/api/tickets/{call}").json()
    assert view["ticket"]["channel"] == "phone" and view["known"]["caller"] == "+447700900123"


def test_the_queue_stream_shows_a_new_handoff(inbox):
    with serve(create_app()) as url, httpx.Client(base_url=url, timeout=30) as client:
        sign_in(client, "ann@shop.example")
        with client.stream("GET", "/agent/api/stream") as stream:
            events = _sse_events(stream.iter_lines())
            assert next(events) == ("queue", {"tickets": [], "online": [
                {"id": inbox["ann"], "name": "Ann"}]})  # signing in is being online
            ticket = handoff("web-live")
            name, data = next(events)
            assert name == "queue" and [t["ticket_id"] for t in data["tickets"]] == [ticket]


def _sse_events(lines):
    name = None
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            yield name, json.loads(line[6:])


def test_saved_replies_fill_placeholders_from_the_conversation(inbox, env, tmp_path):
    tracker_db = tmp_path / "tracker.db"
    env.set("TRACKER_DB", str(tracker_db))
    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tracker_db))
    with session_scope() as s:
        frank = s.scalar(select(Customer).where(Customer.email == "frank@example.com"))
        frank_id, first = frank.id, frank.name.split()[0]
    import asyncio
    asyncio.run(store.save(DialogueStateTracker.from_events("web-5", [
        UserUttered("my order tl-10001 is late", input_channel="socketio")])))
    known, anonymous = handoff("web-5", frank_id), handoff("web-6")
    ann = TestClient(create_app())
    csrf = sign_in(ann, "ann@shop.example")
    body = {"title": "Order update", "body": "Hi {first_name}, {order_number} ships today."}
    assert ann.post("/agent/api/saved-replies", json=body, headers=csrf).status_code == 201
    assert ann.post("/agent/api/saved-replies", json=body, headers=csrf).status_code == 422
    assert ann.post("/agent/api/saved-replies", json=body).status_code == 403
    filled = ann.get(f"/agent/api/tickets/{known}/saved-replies").json()
    assert filled[0]["text"] == f"Hi {first}, TL-10001 ships today."
    unfilled = ann.get(f"/agent/api/tickets/{anonymous}/saved-replies").json()
    assert unfilled[0]["text"] == body["body"]


def test_customer_typing_shows_only_while_a_person_holds_the_conversation(inbox):
    from bot.store.inbox import customer_typing

    ticket = handoff("web-7")
    with session_scope() as s:
        assert customer_typing(s, "web-7")
        assert not customer_typing(s, "web-nobody")
    ann = TestClient(create_app())
    sign_in(ann, "ann@shop.example")
    assert ann.get(f"/agent/api/tickets/{ticket}").json()["ticket"]["customer_typing"] is True
    with session_scope() as s:
        s.get(Ticket, ticket).takeover = False
        assert not customer_typing(s, "web-7")


def test_an_agent_transfers_a_phone_call_to_the_agent_number(inbox, env):
    twilio = FakeTwilio("twilio-token").start()
    try:
        call, web = handoff("voice:CAinbox"), handoff("web-transfer")
        ann = TestClient(create_app())
        csrf = sign_in(ann, "ann@shop.example")
        for ticket in (call, web):
            assert ann.post(f"/agent/api/tickets/{ticket}/claim", headers=csrf).status_code == 200
        r = ann.post(f"/agent/api/tickets/{call}/transfer", headers=csrf)
        assert r.status_code == 409 and "TOUCHLINE_AGENT_PHONE" in r.json()["detail"]
        env.set("TOUCHLINE_AGENT_PHONE", "+441632960961")
        env.set("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
        env.set("TWILIO_AUTH_TOKEN", "twilio-token")
        env.set("TWILIO_API_BASE_URL", twilio.base_url)
        assert ann.post(f"/agent/api/tickets/{call}/transfer").status_code == 403  # no CSRF
        r = ann.post(f"/agent/api/tickets/{web}/transfer", headers=csrf)
        assert r.status_code == 409 and "only a phone call" in r.json()["detail"]
        r = ann.post(f"/agent/api/tickets/{call}/transfer", headers=csrf)
        assert r.json() == {"status": "transferred", "to": "+441632960961"}
        [update] = twilio.updates
        assert (update.call_sid, update.authorised) == ("CAinbox", True)
        assert "<Dial>+441632960961</Dial>" in update.form["Twiml"]
        twilio.ended.add("CAinbox")
        r = ann.post(f"/agent/api/tickets/{call}/transfer", headers=csrf)
        assert r.status_code == 502 and "may have ended" in r.json()["detail"]
        bob = TestClient(create_app())
        r = bob.post(f"/agent/api/tickets/{call}/transfer",
                     headers=sign_in(bob, "bob@shop.example"))
        assert r.status_code == 409  # ann holds it
        with session_scope() as s:
            logged = s.scalars(select(AgentAction).where(AgentAction.action == "transfer")).all()
            assert [(a.agent_id, a.ticket_id) for a in logged] == [(inbox["ann"], call)]
    finally:
        twilio.close()
