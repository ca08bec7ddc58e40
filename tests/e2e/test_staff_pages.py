"""The staff pages in headless Chromium against the real API (uvicorn on a free port) over
a tracker store of seeded conversations: sign in as an admin, filter the analytics, label a
message in review, promote a cluster; an agent who is not an admin is refused; customer
text stays inert (replay R7). Screenshots for the README go to ``docs/img/staff-*.png``."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import yaml
from playwright.sync_api import Page, expect

from bot.api.app import create_app
from bot.staff import service
from bot.staff.analytics import summarise
from bot.staff.reminders import load_settings
from bot.store import agents
from bot.store.db import session_scope
from testing.seeded_conversations import add_message, fill
from testing.tiny_project import make_project
from tests.e2e.screenshots import save_screenshot
from tests.live_http import serve

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
DAY0 = datetime(2026, 11, 2, tzinfo=timezone.utc)
START, END = "2026-11-02", "2026-11-08"
XSS = '<img src=x onerror="window.__xss=1">gift card please'
WAIT_MS = 60_000
TRAIN_MS = 600_000
"""Train and compare: two ``rasa test`` runs and one ``rasa train`` of the tiny project."""


@pytest.fixture
def site(tmp_path, db_url, env):
    tracker = tmp_path / "tracker.db"
    fill(tracker, db_url, DAY0.timestamp())
    add_message(tracker, "conv-xss", XSS, "nlu_fallback", "socketio", DAY0.timestamp() + 3600)
    env.set("TRACKER_DB", str(tracker))
    root = tmp_path / "checkout"
    make_project(root)  # a tiny project: train and compare takes a few minutes, not an hour
    env.set("TOUCHLINE_TRAINING_ROOT", str(root))
    env.set("RASA_TELEMETRY_ENABLED", "false")  # inherited by train and compare's rasa runs
    with session_scope() as s:
        agents.create_agent(s, "Ada", "ada@shop.example", PASSWORD, "admin")
        agents.create_agent(s, "Sam", "sam@shop.example", PASSWORD, "agent")
    with serve(create_app()) as url:
        yield url, root


def sign_in(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/staff/analytics")
    page.fill("#signin input[name=email]", email)
    page.fill("#signin input[name=password]", PASSWORD)
    page.click("#signin button")


def show_range(page: Page) -> None:
    page.fill("#filters input[name=start]", START)
    page.fill("#filters input[name=end]", END)


def test_admin_uses_the_three_pages(browser, site):
    url, root = site
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    sign_in(page, url, "ada@shop.example")
    expect(page.locator("#who")).to_have_text("Ada (admin)", timeout=WAIT_MS)

    # analytics: the range, then one channel; the figures are the library's
    show_range(page)
    page.click("#filters button")
    rows = service.rows(DAY0.date(), datetime(2026, 11, 8).date())
    expected = summarise(rows)
    conversations = page.locator(".card[data-key=conversations] .value")
    expect(conversations).to_have_text(str(expected.conversations), timeout=WAIT_MS)
    expect(page.locator(".card[data-key=containment_rate] .value")).to_have_text(
        f"{100 * expected.containment_rate:.1f}%")
    expect(page.locator("#intents tr")).to_have_count(len(expected.intent_mix) + 1)
    page.wait_for_function("document.getElementById('chart').naturalWidth > 0")
    save_screenshot(page, "staff-analytics.png")
    # cart reminders: staff switch them on with a delay, a wait for active chats and an
    # opening sentence
    expect(page.locator("#reminders input[name=chat_idle_minutes]")).to_have_value(
        "10", timeout=WAIT_MS)
    page.check("#reminders input[name=enabled]")
    page.fill("#reminders input[name=delay_minutes]", "90")
    page.fill("#reminders input[name=chat_idle_minutes]", "15")
    page.fill("#reminders input[name=text]", "Your basket is waiting.")
    page.click("#reminders button")
    expect(page.locator("#reminders-status")).to_have_text("saved", timeout=WAIT_MS)
    saved = load_settings()
    assert (saved.enabled, saved.delay_minutes, saved.chat_idle_minutes, saved.text) == (
        True, 90, 15, "Your basket is waiting.")
    page.select_option("#filters select[name=channel]", "telegram")
    page.click("#filters button")
    telegram = sum(r.channel == "telegram" for r in rows)
    expect(conversations).to_have_text(str(telegram), timeout=WAIT_MS)

    # review: the fell-back conversations, a transcript, a label
    page.goto(f"{url}/staff/review")
    show_range(page)
    page.check("#filters input[name=fell_back]")
    page.fill("#filters input[name=q]", "gift card please")
    page.click("#filters button")
    row = page.locator("#list tr[data-conversation=conv-xss]")
    expect(row).to_have_count(1, timeout=WAIT_MS)
    expect(page.locator("#list tr")).to_have_count(1)
    row.click()
    message = page.locator(".msg.user").first
    expect(message).to_contain_text(XSS, timeout=WAIT_MS)  # shown as text, not run
    expect(message.locator(".low")).to_have_text("0.20")
    message.locator("input[name=intent]").fill("gift_cards")
    message.locator("button").click()
    expect(message.locator(".ok")).to_contain_text("data/nlu/review/gift_cards.yml",
                                                   timeout=WAIT_MS)
    written = (root / "data" / "nlu" / "review" / "gift_cards.yml").read_text()
    assert "gift card please" in written
    assert page.evaluate("window.__xss") is None

    # discover: the groups of unanswered messages; promote the gift-card one
    page.goto(f"{url}/staff/discover")
    show_range(page)
    page.click("#filters button")
    gift = page.locator(".cluster", has_text="gift").first
    expect(gift).to_be_visible(timeout=WAIT_MS)
    save_screenshot(page, "staff-discover.png")
    gift.locator("input[name=intent]").fill("gift_cards")
    gift.locator("input[name=response]").fill("We sell gift cards from 10 to 200 dollars.")
    gift.locator("button[type=submit]").click()
    expect(gift.locator(".ok")).to_contain_text("promoted: gift_cards", timeout=WAIT_MS)
    domain = yaml.safe_load((root / "domain.yml").read_text())
    assert "gift_cards" in domain["intents"]
    assert page.evaluate("window.__xss") is None

    # train and compare with the label and the promoted cluster: gift_cards now recognised
    page.goto(f"{url}/staff/review")
    show_range(page)
    page.fill("#filters input[name=q]", "gift card please")
    page.click("#filters button")
    page.locator("#list tr[data-conversation=conv-xss]").click(timeout=WAIT_MS)
    page.click("#train")
    expect(page.locator("#steps li[data-state=done]")).to_have_count(4, timeout=TRAIN_MS)
    gift = page.locator("#f1 tr[data-intent=gift_cards] td")
    expect(gift.nth(1)).to_have_text("0.000")
    assert float(gift.nth(2).inner_text()) > 0.5
    expect(page.locator("#changed")).to_contain_text("gift card please")
    save_screenshot(page, "staff-review.png")
    context.close()


def test_an_agent_who_is_not_an_admin_is_refused(browser, site):
    url, _ = site
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, url, "sam@shop.example")
    expect(page.locator("main")).to_contain_text("Only admins", timeout=WAIT_MS)
    response = page.request.get(f"{url}/staff/api/analytics")
    assert response.status == 403
    context.close()
