"""Agent inbox accounts: login, lockout, sessions, CSRF, admin-only routes, the CLI."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.api.app import create_app
from bot.api.auth import SESSION_COOKIE
from bot.store import agents
from bot.store.db import session_scope
from bot.store.models import Agent, AgentAction, AgentSession, utcnow
from bot.support.agents import main as agents_cli

PASSWORD = "correct horse battery"


def make_agent(email="sam@shop.example", role="agent", name="Sam") -> int:
    with session_scope() as s:
        return agents.create_agent(s, name, email, PASSWORD, role).id


def signed_in(email="sam@shop.example") -> tuple[TestClient, dict[str, str]]:
    """A client holding an agent's session cookie, and the CSRF header for it."""
    c = TestClient(create_app())
    r = c.post("/agent/api/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c, {"X-CSRF-Token": r.json()["csrf_token"]}


def test_login_sets_a_strict_httponly_cookie_and_me_answers(db_url):
    make_agent()
    c = TestClient(create_app())
    r = c.post("/agent/api/login", json={"email": "SAM@shop.example", "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    me = c.get("/agent/api/me").json()
    assert (me["name"], me["role"], me["csrf_token"]) == ("Sam", "agent", r.json()["csrf_token"])
    with session_scope() as s:  # only the hash of the cookie is stored
        stored = s.scalars(select(AgentSession.token_hash)).all()
        assert len(stored) == 1 and c.cookies[SESSION_COOKIE] not in stored[0]
        assert s.scalars(select(AgentAction.action)).all() == ["login"]


def test_wrong_password_and_unknown_email_are_401(db_url):
    make_agent()
    c = TestClient(create_app())
    assert c.post("/agent/api/login", json={"email": "sam@shop.example",
                                            "password": "nope"}).status_code == 401
    assert c.post("/agent/api/login", json={"email": "who@shop.example",
                                            "password": PASSWORD}).status_code == 401
    assert SESSION_COOKIE not in c.cookies
    assert c.get("/agent/api/me").status_code == 401


def test_repeated_failures_lock_the_account_even_for_the_right_password(db_url):
    agent_id = make_agent()
    c = TestClient(create_app())
    codes = [c.post("/agent/api/login", json={"email": "sam@shop.example",
                                              "password": f"guess-{i}"}).status_code
             for i in range(agents.MAX_FAILED_LOGINS)]
    assert codes == [401] * (agents.MAX_FAILED_LOGINS - 1) + [429]
    right = c.post("/agent/api/login", json={"email": "sam@shop.example", "password": PASSWORD})
    assert right.status_code == 429 and "locked" in right.json()["detail"]
    with session_scope() as s:  # the lock ends after LOCKOUT
        s.get(Agent, agent_id).locked_until = utcnow() - timedelta(seconds=1)
    assert c.post("/agent/api/login", json={"email": "sam@shop.example",
                                            "password": PASSWORD}).status_code == 200


def test_a_good_login_resets_the_failure_count(db_url):
    make_agent()
    c = TestClient(create_app())
    for _ in range(agents.MAX_FAILED_LOGINS - 1):
        c.post("/agent/api/login", json={"email": "sam@shop.example", "password": "x"})
    assert c.post("/agent/api/login", json={"email": "sam@shop.example",
                                            "password": PASSWORD}).status_code == 200
    assert c.post("/agent/api/login", json={"email": "sam@shop.example",
                                            "password": "x"}).status_code == 401


def test_state_changing_requests_need_the_csrf_header(db_url):
    make_agent()
    c, csrf = signed_in()
    assert c.post("/agent/api/presence", json={"active": True}).status_code == 403
    assert c.post("/agent/api/presence", json={"active": True},
                  headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert c.post("/agent/api/logout").status_code == 403
    assert c.post("/agent/api/presence", json={"active": True}, headers=csrf).status_code == 200


def test_logout_ends_the_session_server_side(db_url):
    make_agent()
    c, csrf = signed_in()
    stolen = c.cookies[SESSION_COOKIE]
    assert c.post("/agent/api/logout", headers=csrf).status_code == 200
    other = TestClient(create_app(), cookies={SESSION_COOKIE: stolen})
    assert other.get("/agent/api/me").status_code == 401


def test_an_expired_session_is_401(db_url):
    make_agent()
    c, _ = signed_in()
    with session_scope() as s:
        for row in s.scalars(select(AgentSession)):
            row.expires_at = utcnow() - timedelta(seconds=1)
    assert c.get("/agent/api/me").status_code == 401


def test_presence_marks_online_and_away(db_url):
    agent_id = make_agent()
    c, csrf = signed_in()
    c.post("/agent/api/presence", json={"active": True}, headers=csrf)
    with session_scope() as s:
        assert [a.id for a in agents.online_agents(s)] == [agent_id]
    c.post("/agent/api/presence", json={"active": False}, headers=csrf)
    with session_scope() as s:
        assert agents.online_agents(s) == []


def test_only_admins_list_and_create_agents(db_url):
    make_agent()
    make_agent("ada@shop.example", "admin", "Ada")
    agent, agent_csrf = signed_in()
    assert agent.get("/agent/api/agents").status_code == 403
    new = {"name": "Kim", "email": "kim@shop.example", "password": "long enough pw"}
    assert agent.post("/agent/api/agents", json=new, headers=agent_csrf).status_code == 403
    admin, csrf = signed_in("ada@shop.example")
    assert admin.post("/agent/api/agents", json=new).status_code == 403  # no CSRF header
    created = admin.post("/agent/api/agents", json=new, headers=csrf)
    assert created.status_code == 201 and created.json()["role"] == "agent"
    assert admin.post("/agent/api/agents", json=new, headers=csrf).status_code == 422
    weak = {**new, "email": "lee@shop.example", "password": "short"}
    assert admin.post("/agent/api/agents", json=weak, headers=csrf).status_code == 422
    names = [a["name"] for a in admin.get("/agent/api/agents").json()]
    assert names == ["Ada", "Kim", "Sam"]
    with session_scope() as s:
        logged = s.execute(select(AgentAction.agent_id, AgentAction.action)
                           .where(AgentAction.action == "create_agent")).all()
        admin_id = s.scalar(select(Agent.id).where(Agent.email == "ada@shop.example"))
    assert logged == [(admin_id, "create_agent")]


def test_anonymous_requests_get_401_on_every_inbox_route(db_url):
    c = TestClient(create_app())
    routes = [(r.path, m) for r in c.app.routes for m in getattr(r, "methods", ())
              if r.path.startswith("/agent/api/") and r.path != "/agent/api/login"]
    assert len(routes) >= 5
    for path, method in routes:
        url = path.replace("{ticket_id}", "1")
        assert c.request(method, url, json={}).status_code == 401, (method, path)


def test_cli_creates_an_agent_from_stdin(db_url, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert agents_cli(["create-agent", "--name", "Ada", "--email", "ada@shop.example",
                       "--role", "admin", "--password-stdin"]) == 0
    assert "created agent" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert agents_cli(["create-agent", "--name", "Ada", "--email", "ada@shop.example",
                       "--password-stdin"]) == 1
    assert "exists" in capsys.readouterr().err
    signed_in("ada@shop.example")


@pytest.mark.parametrize("field,value", [("name", " "), ("email", "nobody"),
                                         ("role", "root"), ("password", "short")])
def test_bad_accounts_are_refused(db_url, field, value):
    fields = {"name": "Sam", "email": "sam@shop.example", "password": PASSWORD, "role": "agent"}
    fields[field] = value
    with session_scope() as s, pytest.raises(agents.AgentError):
        agents.create_agent(s, **fields)
