"""The agent inbox end to end: a customer and an agent in two real Chromium pages, and a
Telegram customer against the fake Bot API, on a real Rasa + action server stack and the
API service.

Widget: the customer asks for a person; the agent, signed in to ``/agent``, sees the
conversation in the live queue, claims it and types; the customer's two tabs show "Sam is
typing…" and then the reply under the agent's name; the customer types (the inbox shows
it) and answers (with markup,
replay R7: it stays text in the inbox); the agent closes with a resolution note; the bot
says it is back, offers 1-5, and the customer's rating is stored with the ticket.
Telegram: nobody is online, so the handoff says when the team is back and the customer
leaves an e-mail address; an agent claims, replies (``sendMessage`` with the agent's name),
reads what the customer writes, closes, and the customer's tap on "5" is the rating.
Screenshots of the inbox for the README go to ``docs/img/inbox-*.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from bot.store.agents import create_agent
from bot.store.db import session_scope
from bot.store.models import AgentAction, Ticket
from bot.support.wording import BACK_AND_RATE, RATING_THANKS, contact_email_noted
from connectors.telegram import SECRET_HEADER
from testing import telegram_updates as u
from testing.fake_telegram import TOKEN, USERNAME, FakeBotApi
from testing.stack import Stack, free_port, stack_env
from tests.e2e.screenshots import save_screenshot
from tests.e2e.test_widget import Widget

pytestmark = pytest.mark.slow

WAIT_MS = 30_000
PASSWORD = "inbox-demo-password"
HANDOFF = "A person will reply right here"
XSS = '<img src=x onerror="document.title=\'pwned\'"><script>alert(1)</script> thanks!'
TG_SECRET = "inbox-e2e-secret"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBotApi]:
    server = FakeBotApi().start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def shop_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def inbox_stack(model, tmp_path_factory, shop_port, fake) -> Iterator[Stack]:
    """Rasa + actions with the widget and Telegram (fake Bot API) channels; two agents."""
    work = tmp_path_factory.mktemp("inbox")
    env = stack_env(work, TOUCHLINE_ACTION_TIMEOUT_S="60", TELEGRAM_TOKEN=TOKEN,
                    TELEGRAM_SECRET_TOKEN=TG_SECRET, TELEGRAM_BOT_NAME=USERNAME,
                    TELEGRAM_API_BASE_URL=fake.base_url)
    stack = Stack(work, model, env, cors=(f"http://127.0.0.1:{shop_port}",)).start()
    with session_scope(env["DATABASE_URL"]) as s:
        create_agent(s, "Sam", "sam@shop.example", PASSWORD, "admin")
        create_agent(s, "Kim", "kim@shop.example", PASSWORD)
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="module")
def shop(inbox_stack: Stack, shop_port: int) -> str:
    return inbox_stack.start_api(shop_port)


def ticket_of(stack: Stack, sender: str) -> Ticket:
    with session_scope(stack.env["DATABASE_URL"]) as s:
        ticket = s.scalar(select(Ticket).where(Ticket.sender_id == sender)
                          .order_by(Ticket.id.desc()))
        s.expunge(ticket)
        return ticket


class Inbox:
    """The agent inbox in its own browser profile."""

    def __init__(self, browser: Browser, shop: str, email: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 760})
        self.page: Page = self.context.new_page()
        self.dialogs: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(f"{shop}/agent")
        self.page.fill("#login input[name=email]", email)
        self.page.fill("#login input[name=password]", PASSWORD)
        self.page.click("#login button[type=submit]")
        self.page.locator("#app").wait_for(timeout=WAIT_MS)

    def row(self, ticket_id: int):  # noqa: ANN201 (a Playwright locator)
        return self.page.locator(f'#queue .ticket[data-ticket="{ticket_id}"]')

    def lines(self) -> list[tuple[str, str]]:
        return [tuple(x) for x in self.page.evaluate(
            """() => [...document.querySelectorAll('#transcript .line')].map(
                 l => [l.classList[1], l.querySelector('.text').textContent])""")]

    def wait_line(self, text: str) -> None:
        self.page.wait_for_function(
            """t => [...document.querySelectorAll('#transcript .line .text')]
                     .some(n => n.textContent === t)""", arg=text, timeout=WAIT_MS)


def agent_bubbles(widget: Widget) -> list[tuple[str, str]]:
    return [tuple(x) for x in widget.page.evaluate(
        """() => [...document.querySelector('#touchline-chat').shadowRoot
                 .querySelectorAll('.msg.agent')].map(m => [
                   m.querySelector('.agent-name').textContent,
                   m.querySelector('.text').textContent])""")]


def wait_in_shadow(widget: Widget, script: str, arg: Any = None) -> None:  # noqa: ANN401
    widget.page.wait_for_function(
        f"a => {{ const r = document.querySelector('#touchline-chat').shadowRoot; "
        f"return {script}; }}", arg=arg, timeout=WAIT_MS)


def test_a_customer_and_an_agent_in_two_browsers(browser: Browser, inbox_stack: Stack,
                                                 shop: str) -> None:
    customer_context = browser.new_context()
    customer = Widget(customer_context, shop).open()
    agent = Inbox(browser, shop, "sam@shop.example")
    customer.send("I want to talk to a human")
    wait_in_shadow(customer, "[...r.querySelectorAll('.msg.bot .text')]"
                             ".some(n => n.textContent.includes(a))", HANDOFF)
    session_id = customer.session()["session_id"]
    ticket = ticket_of(inbox_stack, session_id)

    # the live queue shows it without a reload, with the channel and the customer
    agent.row(ticket.id).wait_for(timeout=WAIT_MS)
    assert "Anonymous visitor" in agent.row(ticket.id).inner_text()
    assert "web" in agent.row(ticket.id).inner_text().lower()
    save_screenshot(agent.page, "inbox-queue.png")
    agent.row(ticket.id).click()
    agent.page.click("#claim")
    agent.page.locator("#composer").wait_for(timeout=WAIT_MS)

    # a second tab of the same widget session
    second = Widget(customer_context, shop).open()

    # typing shows in both tabs, then the reply with the agent's name
    agent.page.fill("#reply", "")
    agent.page.type("#reply", "Hello, I'm Sam from the shop")
    for tab in (customer, second):
        wait_in_shadow(tab, "!r.querySelector('.agent-typing').hidden && "
                            "r.querySelector('.agent-typing').textContent.startsWith(a)",
                       "Sam is typing")
    agent.page.press("#reply", "Enter")
    for tab in (customer, second):
        wait_in_shadow(tab, "r.querySelectorAll('.msg.agent').length >= 1")
        assert agent_bubbles(tab) == [("Sam", "Hello, I'm Sam from the shop")]
        wait_in_shadow(tab, "r.querySelector('.agent-typing').hidden")
    agent.wait_line("Hello, I'm Sam from the shop")

    # the customer answers during the takeover: the agent sees them typing, then reads it;
    # the bot stays silent
    bots_before = len(customer.bot_texts())
    customer.page.type("#touchline-chat .input", "thanks")
    agent.page.locator("#customer-typing").wait_for(state="visible", timeout=WAIT_MS)
    customer.send(XSS)
    agent.wait_line(XSS)
    assert ("customer", XSS) in agent.lines()
    assert agent.page.evaluate("document.querySelectorAll('#transcript img, "
                               "#transcript script').length") == 0
    assert agent.page.title() == "Touchline agent inbox" and agent.dialogs == []
    assert agent.page.locator("#known").inner_text().startswith("What the bot knew")
    save_screenshot(agent.page, "inbox-conversation.png")
    assert len(customer.bot_texts()) == bots_before

    # close: a resolution note is required; the bot is back and asks for a rating
    agent.page.click("#close")
    assert agent.page.locator("#conv-error").inner_text() == "Write a resolution note to close."
    agent.page.fill("#resolution", "Explained the return policy")
    agent.page.click("#close")
    wait_in_shadow(customer, "[...r.querySelectorAll('.msg.bot .text')]"
                             ".some(n => n.textContent === a)", BACK_AND_RATE)
    customer.page.locator("#touchline-chat .quick-reply").filter(
        has_text=re.compile("^4$")).last.click()
    wait_in_shadow(customer, "[...r.querySelectorAll('.msg.bot .text')]"
                             ".some(n => n.textContent === a)", RATING_THANKS)
    closed = ticket_of(inbox_stack, session_id)
    assert (closed.status, closed.resolution, closed.rating) == (
        "closed", "Explained the return policy", 4)
    # the bot answers again
    customer.send("thank you")
    wait_in_shadow(customer, "[...r.querySelectorAll('.msg.bot .text')]"
                             ".some(n => n.textContent.includes(a))", "welcome")
    with session_scope(inbox_stack.env["DATABASE_URL"]) as s:
        actions = s.scalars(select(AgentAction.action).where(
            AgentAction.ticket_id == ticket.id)).all()
    assert actions == ["claim", "reply", "close"]
    customer.assert_clean()
    second.assert_clean()
    agent.page.click("#logout")  # offline at once
    agent.page.locator("#login").wait_for(timeout=WAIT_MS)
    agent.context.close()
    customer_context.close()


def test_an_agent_answers_a_telegram_customer(inbox_stack: Stack, shop: str,
                                              fake: FakeBotApi) -> None:
    chat = 777001

    def send(text: str | None = None, update: dict[str, Any] | None = None) -> None:
        r = httpx.post(f"{inbox_stack.url}/webhooks/telegram/webhook",
                       json=update or u.message(chat, text), headers={SECRET_HEADER: TG_SECRET},
                       timeout=30)
        assert r.status_code == 200

    # nobody is online: the customer hears when the team is back and leaves an address
    send("I want to talk to a human")
    offline = fake.wait_for(lambda: next((t for t in fake.texts(chat) if "ticket #" in t), None))
    assert "Nobody is online right now" in offline or "back soon" in offline
    assert "leave your e-mail address" in offline and HANDOFF not in offline
    send("please write to me at tg.customer@example.com")
    fake.wait_for(lambda: contact_email_noted("tg.customer@example.com") in fake.texts(chat))
    ticket = ticket_of(inbox_stack, f"telegram:{chat}")
    assert ticket.contact_email == "tg.customer@example.com"
    with httpx.Client(base_url=shop, timeout=30) as kim:
        csrf = {"X-CSRF-Token": kim.post("/agent/api/login", json={
            "email": "kim@shop.example", "password": PASSWORD}).json()["csrf_token"]}
        queued = kim.get("/agent/api/queue?filter=unassigned").json()
        assert {"ticket_id": ticket.id, "channel": "telegram"}.items() <= next(
            t for t in queued if t["ticket_id"] == ticket.id).items()
        assert kim.post(f"/agent/api/tickets/{ticket.id}/claim", headers=csrf).status_code == 200
        assert kim.post(f"/agent/api/tickets/{ticket.id}/reply", headers=csrf,
                        json={"text": "Hi, Kim here. How can I help?"}).status_code == 200
        fake.wait_for(lambda: "Kim (support team): Hi, Kim here. How can I help?"
                      in fake.texts(chat))
        sent = len(fake.texts(chat))
        send("my parcel never arrived")
        view = fake.wait_for(lambda: (v := kim.get(f"/agent/api/tickets/{ticket.id}").json())
                             and ("customer", "my parcel never arrived") in
                             [(ln["author"], ln["text"]) for ln in v["lines"]] and v)
        assert ("agent", "Hi, Kim here. How can I help?") in [
            (ln["author"], ln["text"]) for ln in view["lines"]]
        assert len(fake.texts(chat)) == sent  # the bot stayed silent
        assert kim.post(f"/agent/api/tickets/{ticket.id}/close", headers=csrf,
                        json={"resolution": "Resent the parcel"}).status_code == 200
    call = fake.wait_for(lambda: next((c for c in fake.sent("sendMessage", chat)
                                       if c.params.get("text") == BACK_AND_RATE), None))
    buttons = [b for row in call.markup()["inline_keyboard"] for b in row]
    five = next(b for b in buttons if b["text"] == "5")
    send(update=u.tap(chat, five["callback_data"]))
    fake.wait_for(lambda: RATING_THANKS in fake.texts(chat))
    closed = ticket_of(inbox_stack, f"telegram:{chat}")
    assert (closed.status, closed.rating) == ("closed", 5)
