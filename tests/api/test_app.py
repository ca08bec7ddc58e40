"""The assembled API service (``create_app``): routes over TestClient, the docs pages in a
real browser against uvicorn."""

from __future__ import annotations

from collections.abc import Iterator

import jwt
import pytest
from fastapi.testclient import TestClient

from bot.api.app import create_app
from bot.identity.revocation import is_revoked
from bot.identity.tokens import IdentityKeys, verify
from bot.kicks import predictor
from bot.kicks.predictor import KickPredictor
from bot.store.db import session_scope
from bot.store.phones import check_pin, is_registered
from bot.store.tickets import open_ticket
from bot.support.messages import CARDS_TYPE
from tests.live_http import serve


def client(env, token="agent-secret"):
    if token is None:
        env.unset("TOUCHLINE_AGENT_TOKEN")
    else:
        env.set("TOUCHLINE_AGENT_TOKEN", token)
    return TestClient(create_app())


def test_every_router_is_mounted(db_url, env):
    paths = {route.path for route in client(env).app.routes}
    assert {
        "/health",
        "/tickets",
        "/tickets/{ticket_id}/close",
        "/kicks/predict",
        "/search",
    } <= paths
    assert client(env).get("/health").json()["status"] == "ok"


def test_ticket_api_needs_the_agent_token(db_url, env):
    c = client(env)
    assert c.get("/tickets").status_code == 401
    assert c.get("/tickets", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client(env, token=None).get("/tickets").status_code == 503


def test_agent_lists_and_closes_a_takeover_ticket(db_url, env):
    with session_scope() as s:
        ticket_id = open_ticket(s, "web-7", None, "handoff", "Customer: help", True).ticket.id
    c = client(env)
    auth = {"Authorization": "Bearer agent-secret"}
    listed = c.get("/tickets", headers=auth).json()
    assert [t["id"] for t in listed] == [ticket_id] and listed[0]["takeover"]
    closed = c.post(f"/tickets/{ticket_id}/close", headers=auth).json()
    assert closed["status"] == "closed" and closed["closed_at"]
    assert c.get("/tickets", headers=auth).json() == []
    assert c.get("/tickets?status=closed", headers=auth).json()[0]["id"] == ticket_id
    assert c.post("/tickets/999/close", headers=auth).status_code == 404
    assert c.get("/tickets?status=bogus", headers=auth).status_code == 422


@pytest.fixture
def live_api(db_url, env) -> Iterator[str]:
    """The API service under uvicorn on a free 127.0.0.1 port; its base URL."""
    env.set("TOUCHLINE_AGENT_TOKEN", "agent-secret")
    with serve(create_app()) as url:
        yield url


def test_docs_pages_render_without_internet(live_api: str):
    from playwright.sync_api import sync_playwright

    outside: list[str] = []

    def offline(route) -> None:  # noqa: ANN001 (playwright Route)
        if route.request.url.startswith(live_api):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        page.route("**/*", offline)
        page.goto(f"{live_api}/docs")
        page.wait_for_selector(".opblock-summary-path[data-path='/tickets']", timeout=20_000)
        page.wait_for_selector(".opblock-summary-path[data-path='/kicks/predict']")
        page.wait_for_load_state("networkidle")
        browser.close()
    assert outside == []


def test_numbers_beyond_any_range_are_a_422_not_a_500(db_url, env, monkeypatch, kick_model):
    url, root = kick_model
    monkeypatch.setattr(predictor, "_predictor", KickPredictor.load(url, root))
    c = client(env)
    huge = "1" + "0" * 400
    r = c.post(
        "/kicks/predict",
        content='{"x_m": ' + huge + ', "y_m": 30}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422 and "x_m" in r.text
    auth = {"Authorization": "Bearer agent-secret"}
    for path in ("/tickets/9223372036854775808", "/tickets/0"):
        assert c.get(path, headers=auth).status_code == 422
    assert c.post("/tickets/9223372036854775808/close", headers=auth).status_code == 422
    assert c.get("/tickets/9223372036854775807", headers=auth).status_code == 404


def test_demo_page_refuses_a_malformed_host_header(db_url, env):
    env.unset("TOUCHLINE_RASA_PUBLIC_URL")
    c = client(env)
    assert c.get("/", headers={"Host": "[x"}).status_code == 400
    injected = c.get("/", headers={"Host": "x; script-src * 'unsafe-inline'; y"})
    assert injected.status_code == 400 and "unsafe-inline" not in str(injected.headers)
    ok = c.get("/", headers={"Host": "shop.example.com"})
    assert ok.status_code == 200 and "http://shop.example.com:" in ok.headers[
        "content-security-policy"
    ]


def test_widget_script_gets_the_card_type_from_the_one_python_definition(db_url, env):
    served = client(env).get("/widget.js")
    assert served.status_code == 200 and "javascript" in served.headers["content-type"]
    assert served.headers["x-content-type-options"] == "nosniff"
    assert f'const CARDS_TYPE = "{CARDS_TYPE}";' in served.text
    assert "{{" not in served.text  # every placeholder is filled in
    assert served.text.count(CARDS_TYPE) == 1  # the page names the type nowhere else


def test_demo_login_mints_identity_tokens_only_with_a_secret(db_url, env):
    env.unset("TOUCHLINE_IDENTITY_SECRET")
    bob = {"email": "bob@example.com", "password": "bob-demo"}
    assert client(env).post("/demo/login", json=bob).status_code == 503
    secret = "demo-identity-secret-for-tests-0123456789"
    env.set("TOUCHLINE_IDENTITY_SECRET", secret)
    c = client(env)
    assert c.post("/demo/login", json={**bob, "password": "wrong"}).status_code == 401
    assert c.post("/demo/login", json={"email": "", "password": ""}).status_code == 422
    signed_in = c.post("/demo/login", json=bob)
    assert signed_in.status_code == 200 and signed_in.json()["name"] == "Bob Chen"
    token = signed_in.json()["token"]
    assert verify(token, IdentityKeys(secret=secret)).conversation_id.startswith("shop-")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 600 and claims["purpose"] == "identity"
    page = c.get("/")  # the cookie's login puts a fresh token on the widget's tag
    assert 'data-identity-token="' in page.text and page.headers["cache-control"] == "no-store"
    assert 'data-customer="Bob Chen"' in page.text
    c.post("/demo/logout")
    assert "data-identity-token" not in c.get("/").text


def test_demo_logout_revokes_the_logins_identity_tokens(db_url, env):
    secret = "demo-identity-secret-for-tests-0123456789"
    env.set("TOUCHLINE_IDENTITY_SECRET", secret)
    c = client(env)
    token = c.post("/demo/login", json={"email": "bob@example.com", "password": "bob-demo"}
                   ).json()["token"]
    identity = verify(token, IdentityKeys(secret=secret))
    assert not is_revoked(identity)
    c.post("/demo/logout")
    assert is_revoked(identity)
    assert c.post("/demo/logout").status_code == 200  # no login: nothing to revoke



def test_a_signed_in_customer_registers_a_phone_number_and_pin(db_url, env):
    env.set("TOUCHLINE_IDENTITY_SECRET", "demo-identity-secret-for-tests-0123456789")
    c = client(env)
    good = {"phone": "+44 7700 900123", "pin": "4862"}
    assert c.post("/demo/phone", json=good).status_code == 401
    assert c.delete("/demo/phone").status_code == 401
    c.post("/demo/login", json={"email": "bob@example.com", "password": "bob-demo"})
    for bad in ({"phone": "07700 900123", "pin": "4862"}, {"phone": "+447700900123",
                "pin": "1234"}, {"phone": "+447700900123", "pin": "12ab"},
                {"phone": "+44" * 200, "pin": "4862"}, {"phone": "+447700900123"}):
        r = c.post("/demo/phone", json=bad)
        assert r.status_code == 422, (bad, r.text)
    assert c.post("/demo/phone", json=good).json() == {"phone": "+447700900123"}
    with session_scope(db_url) as session:
        assert check_pin(session, "+447700900123", "4862", attempts=5) is not None
    assert c.delete("/demo/phone").json() == {"removed": True}
    with session_scope(db_url) as session:
        assert not is_registered(session, "+447700900123")


def test_telegram_link_needs_a_login_and_is_a_deep_link(db_url, env):
    env.set("TOUCHLINE_IDENTITY_SECRET", "demo-identity-secret-for-tests-0123456789")
    env.set("TELEGRAM_BOT_NAME", "TouchlineShopBot")
    c = client(env)
    assert c.post("/demo/telegram-link").status_code == 401
    c.post("/demo/login", json={"email": "emma@example.com", "password": "emma-demo"})
    link = c.post("/demo/telegram-link").json()
    prefix = "https://t.me/TouchlineShopBot?start="
    assert link["url"].startswith(prefix) and link["expires_in"] == 600
    token = link["url"].removeprefix(prefix)
    assert 16 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()
