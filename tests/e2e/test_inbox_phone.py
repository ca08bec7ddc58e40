"""The inbox's "Transfer call" button in headless Chromium: an agent holding a phone
caller's conversation puts the call through to the agent number (fake Twilio REST API on
127.0.0.1); the button is not offered for other channels."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from bot.api.app import create_app
from bot.store import agents
from bot.store.db import session_scope
from bot.store.tickets import open_ticket
from testing.fake_twilio import ACCOUNT_SID, FakeTwilio
from testing.stack import free_port
from tests.e2e.screenshots import save_screenshot
from tests.live_http import serve

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
AGENT_PHONE = "+441632960961"
WAIT_MS = 10_000


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio("twilio-token").start()
    yield fake
    fake.close()


def handoff(sender: str) -> int:
    with session_scope() as s:
        return open_ticket(s, sender, None, "handoff", "Customer: a person please",
                           takeover=True).ticket.id


def test_an_agent_transfers_a_phone_call_from_the_inbox(browser: Browser, db_url, env,
                                                        twilio):
    env.set("RASA_AUTH_TOKEN", "rasa-token")
    env.set("TOUCHLINE_RASA_URL", f"http://127.0.0.1:{free_port()}")  # nothing stores
    env.set("TOUCHLINE_AGENT_PHONE", AGENT_PHONE)
    env.set("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    env.set("TWILIO_AUTH_TOKEN", "twilio-token")
    env.set("TWILIO_API_BASE_URL", twilio.base_url)
    with session_scope() as s:
        agents.create_agent(s, "Sam", "sam@shop.example", PASSWORD)
    call, web = handoff("voice:CAbutton"), handoff("web-button")
    with serve(create_app()) as url:
        context = browser.new_context(viewport={"width": 1280, "height": 760})
        page = context.new_page()
        page.goto(f"{url}/agent")
        page.fill("#login input[name=email]", "sam@shop.example")
        page.fill("#login input[name=password]", PASSWORD)
        page.click("#login button[type=submit]")
        page.locator("#app").wait_for(timeout=WAIT_MS)

        def claim(ticket: int) -> None:
            page.locator(f'#queue .ticket[data-ticket="{ticket}"]').click(timeout=WAIT_MS)
            page.locator("#claim").click(timeout=WAIT_MS)
            page.locator("#composer").wait_for(timeout=WAIT_MS)

        claim(web)
        assert page.locator("#transfer").is_hidden()
        claim(call)
        page.locator("#transfer").click(timeout=WAIT_MS)
        page.wait_for_function(
            "n => document.getElementById('conv-state').textContent.includes(n)",
            arg=AGENT_PHONE, timeout=WAIT_MS)
        assert page.locator("#conv-error").text_content() == ""
        save_screenshot(page, "inbox-phone-transfer.png")
        context.close()
    [update] = twilio.updates
    assert (update.call_sid, update.authorised) == ("CAbutton", True)
    assert f"<Dial>{AGENT_PHONE}</Dial>" in update.form["Twiml"]
