"""The staff console's API: admins only, figures equal to the library's, labels, promote,
dismiss, reminder settings, and bad input answered with 4xx."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import datetime, timezone

import pytest
import yaml
from fastapi.testclient import TestClient

from bot.api.app import create_app
from bot.config import PROJECT_ROOT
from bot.staff import service
from bot.staff.analytics import summarise
from bot.store import agents
from bot.store.db import session_scope
from testing.seeded_conversations import UNANSWERED, fill

PASSWORD = "correct horse battery"
DAY0 = datetime(2026, 11, 2, tzinfo=timezone.utc)
RANGE = {"start": "2026-11-02", "end": "2026-11-08"}


@pytest.fixture
def console(tmp_path, db_url, env):
    """Conversations in a tracker store, a training checkout copy, an admin and an agent."""
    fill(tmp_path / "tracker.db", db_url, DAY0.timestamp())
    env.set("TRACKER_DB", str(tmp_path / "tracker.db"))
    root = tmp_path / "checkout"
    (root / "data").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "domain.yml", root / "domain.yml")
    shutil.copy(PROJECT_ROOT / "data" / "rules.yml", root / "data" / "rules.yml")
    env.set("TOUCHLINE_TRAINING_ROOT", str(root))
    with session_scope() as s:
        agents.create_agent(s, "Ada", "ada@shop.example", PASSWORD, "admin")
        agents.create_agent(s, "Sam", "sam@shop.example", PASSWORD, "agent")
    return root


def signed_in(email: str) -> tuple[TestClient, dict[str, str]]:
    client = TestClient(create_app())
    r = client.post("/agent/api/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return client, {"X-CSRF-Token": r.json()["csrf_token"]}


ROUTES = [("get", "/staff/api/analytics"), ("get", "/staff/api/analytics.csv"),
          ("get", "/staff/api/analytics.svg"), ("get", "/staff/api/conversations"),
          ("get", "/staff/api/conversations/conv-01"), ("get", "/staff/api/clusters"),
          ("post", "/staff/api/labels"), ("post", "/staff/api/clusters/promote"),
          ("post", "/staff/api/clusters/dismiss"), ("get", "/staff/api/reminders"),
          ("put", "/staff/api/reminders"), ("post", "/staff/api/retrain"),
          ("get", "/staff/api/retrain"), ("post", "/staff/api/retrain/deploy"),
          ("post", "/staff/api/retrain/rollback")]


def test_anonymous_gets_401_and_an_agent_403(console):
    anonymous = TestClient(create_app())
    agent, csrf = signed_in("sam@shop.example")
    for method, path in ROUTES:
        assert getattr(anonymous, method)(path).status_code == 401, path
        kwargs = {"headers": csrf, "json": {}} if method != "get" else {}
        assert getattr(agent, method)(path, **kwargs).status_code == 403, path
    admin, _ = signed_in("ada@shop.example")
    assert admin.post("/staff/api/labels", json={"intent": "greet", "text": "hi"}
                      ).status_code == 403  # no CSRF header
    for page in ("analytics", "review", "discover", "staff.js"):
        assert anonymous.get(f"/staff/{page}").status_code == 200  # the page asks to sign in
    assert anonymous.get("/staff/nothing").status_code == 404


def test_figures_csv_and_chart(console):
    admin, _ = signed_in("ada@shop.example")
    body = admin.get("/staff/api/analytics", params=RANGE).json()
    rows = service.rows(datetime(2026, 11, 2).date(), datetime(2026, 11, 8).date())
    expected = summarise(rows)
    assert body["conversations"] == expected.conversations == 60
    assert body["containment_rate"] == pytest.approx(expected.containment_rate)
    assert body["median_first_agent_reply_s"] == pytest.approx(
        expected.median_first_agent_reply_s)
    telegram = admin.get("/staff/api/analytics", params={**RANGE, "channel": "telegram"}).json()
    assert 0 < telegram["conversations"] < 60
    table = list(csv.DictReader(io.StringIO(admin.get("/staff/api/analytics.csv",
                                                      params=RANGE).text)))
    assert len(table) == 60
    svg = admin.get("/staff/api/analytics.svg", params=RANGE)
    assert svg.headers["content-type"].startswith("image/svg+xml") and "<rect" in svg.text


def test_review_list_transcript_and_label(console):
    admin, csrf = signed_in("ada@shop.example")
    found = admin.get("/staff/api/conversations", params={**RANGE, "fell_back": "true"}).json()
    assert 0 < found["total"] < 60
    first = found["conversations"][0]["conversation"]
    events = admin.get(f"/staff/api/conversations/{first}").json()["events"]
    user = next(e for e in events if e["kind"] == "user")
    assert user["intent"] and 0 <= user["confidence"] <= 1
    r = admin.post("/staff/api/labels", headers=csrf,
                   json={"intent": "gift_cards", "text": "gift card, card 4111 1111 1111 1111"})
    assert r.status_code == 200 and r.json()["file"] == "data/nlu/review/gift_cards.yml"
    written = (console / "data" / "nlu" / "review" / "gift_cards.yml").read_text()
    assert "4111" not in written and "gift card" in written
    assert admin.get("/staff/api/conversations/nobody").status_code == 404


@pytest.mark.parametrize("params", [{"start": "2026-11-09", "end": "2026-11-01"},
                                    {"start": "2020-01-01", "end": "2026-01-01"},
                                    {"start": "not a date"}, {"limit": "0"}])
def test_bad_ranges_are_422(console, params):
    admin, _ = signed_in("ada@shop.example")
    assert admin.get("/staff/api/conversations", params=params).status_code == 422


@pytest.mark.parametrize("body", [{"intent": "Bad Name", "text": "x"},
                                  {"intent": "ok", "text": "   "},
                                  {"intent": "ok", "text": "x" * 2001}, {"intent": "ok"}])
def test_bad_labels_are_422(console, body):
    admin, csrf = signed_in("ada@shop.example")
    assert admin.post("/staff/api/labels", headers=csrf, json=body).status_code == 422


def test_clusters_promote_and_dismiss(console):
    admin, csrf = signed_in("ada@shop.example")
    found = admin.get("/staff/api/clusters", params=RANGE).json()
    groups = {frozenset(c["examples"]) for c in found["clusters"]}
    for topic in UNANSWERED.values():
        assert any(frozenset(topic) <= g for g in groups), topic
    gift = next(c for c in found["clusters"] if "gift" in c["name"])
    r = admin.post("/staff/api/clusters/promote", headers=csrf, json={
        "intent": "gift_cards", "examples": gift["examples"],
        "response": "We sell gift cards in the shop."})
    assert r.status_code == 200 and r.json()["examples"] == len(set(gift["examples"]))
    domain = yaml.safe_load((console / "domain.yml").read_text())
    assert "gift_cards" in domain["intents"] and "utter_gift_cards" in domain["responses"]
    again = admin.post("/staff/api/clusters/promote", headers=csrf, json={
        "intent": "gift_cards", "examples": ["x"], "response": "y"})
    assert again.status_code == 422
    hours = next(c for c in found["clusters"] if "hours" in c["examples"][0]
                 or any("open" in e for e in c["examples"]))
    assert admin.post("/staff/api/clusters/dismiss", headers=csrf,
                      json={"examples": hours["examples"]}).status_code == 200
    later = admin.get("/staff/api/clusters", params=RANGE).json()
    left = {e for c in later["clusters"] for e in c["examples"]}
    assert not left & set(gift["examples"]) and not left & set(hours["examples"])


def test_reminder_settings(console):
    admin, csrf = signed_in("ada@shop.example")
    stored = admin.get("/staff/api/reminders").json()
    assert (stored["delay_minutes"], stored["chat_idle_minutes"]) == (60, 10)
    r = admin.put("/staff/api/reminders", headers=csrf, json={"delay_minutes": 90})
    assert r.status_code == 200 and admin.get("/staff/api/reminders").json()[
        "delay_minutes"] == 90
    for bad in ({"quiet_start": "99:00"}, {"chat_idle_minutes": -5},
                {"chat_idle_minutes": None}):
        assert admin.put("/staff/api/reminders", headers=csrf, json=bad).status_code == 422


def test_retrain_needs_a_model_and_deploy_a_finished_run(console):
    admin, csrf = signed_in("ada@shop.example")
    assert admin.get("/staff/api/retrain").json() == {"status": "none"}
    assert admin.post("/staff/api/retrain", headers=csrf).status_code == 409  # no model yet
    assert admin.post("/staff/api/retrain/deploy", headers=csrf).status_code == 409
    assert admin.post("/staff/api/retrain/rollback", headers=csrf).status_code == 409


def test_hostile_queries_get_4xx_or_nothing_never_500(console):
    admin, csrf = signed_in("ada@shop.example")
    assert admin.get("/staff/api/conversations", params={**RANGE, "q": "\x00"}).json()[
        "total"] == 0
    assert admin.get("/staff/api/conversations", params={**RANGE, "q": "x" * 201}
                     ).status_code == 422
    assert admin.get("/staff/api/conversations/" + "a" * 20_000).status_code == 404
    assert admin.get("/staff/api/conversations/%00").status_code == 404
    assert admin.get("/staff/api/analytics", params={"channel": "<script>"}).json()[
        "conversations"] == 0
    assert admin.post("/staff/api/clusters/promote", headers=csrf, json={
        "intent": "x", "examples": [], "response": "y"}).status_code == 422
    assert admin.put("/staff/api/reminders", headers=csrf,
                     json={"delay_minutes": None}).status_code == 422


def test_before_the_first_conversation_every_page_is_empty_not_an_error(tmp_path, db_url, env):
    env.set("TRACKER_DB", str(tmp_path / "no-conversations-yet.db"))
    with session_scope() as s:
        agents.create_agent(s, "Ada", "ada@shop.example", PASSWORD, "admin")
    admin, _ = signed_in("ada@shop.example")
    assert admin.get("/staff/api/analytics", params=RANGE).json()["conversations"] == 0
    assert admin.get("/staff/api/conversations", params=RANGE).json()["total"] == 0
    assert admin.get("/staff/api/clusters", params=RANGE).json()["clusters"] == []
    assert admin.get("/staff/api/conversations/anyone").status_code == 404
    assert admin.get("/staff/api/analytics.csv", params=RANGE).text.startswith("conversation,")
    assert not (tmp_path / "no-conversations-yet.db").exists()  # reading made no file
