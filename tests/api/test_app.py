"""The assembled API service (``create_app``) over real HTTP semantics (TestClient)."""

from fastapi.testclient import TestClient

from bot.api.app import create_app
from bot.store.db import session_scope
from bot.store.tickets import open_ticket


def client(monkeypatch, token="agent-secret"):
    if token is None:
        monkeypatch.delenv("TOUCHLINE_AGENT_TOKEN", raising=False)
    else:
        monkeypatch.setenv("TOUCHLINE_AGENT_TOKEN", token)
    return TestClient(create_app())


def test_every_router_is_mounted(db_url, monkeypatch):
    paths = {route.path for route in client(monkeypatch).app.routes}
    assert {
        "/health",
        "/tickets",
        "/tickets/{ticket_id}/close",
        "/kicks/predict",
        "/search",
    } <= paths
    assert client(monkeypatch).get("/health").json() == {"status": "ok"}


def test_ticket_api_needs_the_agent_token(db_url, monkeypatch):
    c = client(monkeypatch)
    assert c.get("/tickets").status_code == 401
    assert c.get("/tickets", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client(monkeypatch, token=None).get("/tickets").status_code == 503


def test_agent_lists_and_closes_a_takeover_ticket(db_url, monkeypatch):
    with session_scope() as s:
        ticket_id = open_ticket(s, "web-7", None, "handoff", "Customer: help", True).id
    c = client(monkeypatch)
    auth = {"Authorization": "Bearer agent-secret"}
    listed = c.get("/tickets", headers=auth).json()
    assert [t["id"] for t in listed] == [ticket_id] and listed[0]["takeover"]
    closed = c.post(f"/tickets/{ticket_id}/close", headers=auth).json()
    assert closed["status"] == "closed" and closed["closed_at"]
    assert c.get("/tickets", headers=auth).json() == []
    assert c.get("/tickets?status=closed", headers=auth).json()[0]["id"] == ticket_id
    assert c.post("/tickets/999/close", headers=auth).status_code == 404
    assert c.get("/tickets?status=bogus", headers=auth).status_code == 422
