"""The website chat widget in headless Chromium against real servers.

A Rasa server + action server (``bot.runtime.stack.Stack``, with the socket.io channel of
``connectors/socketio.py`` from ``credentials.yml``) and the FastAPI service (demo shop page
and ``/widget.js``) run on free ports; Debian's Chromium, driven by Playwright, uses the
page like a visitor.  Covers the conversation with buttons and product cards, history after
reload, takeover silence, replays R7, R10 and R11 of ../shared/replay/bad-inputs.md, two
tabs on one session, reconnecting after a dropped connection and after a Rasa restart, and
the signed session tokens.  Screenshots for the README go to ``docs/img/widget-*.png``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from bot.runtime.stack import Stack, stack_env
from connectors.socketio import SessionSigner
from tests.e2e.screenshots import save_screenshot

pytestmark = pytest.mark.slow

SECRET = "widget-test-secret-0123456789abcdef"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
WAIT_MS = 30_000
GREET = "Hi! I'm Touchline"
BOT = "I'm a bot"
WELCOME = "You're welcome!"
OUT_OF_SCOPE = "Sorry, that's outside"
BYE = "Goodbye, and thanks"
MARKUP = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
]

# ---- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def widget_stack(model, tmp_path_factory) -> Iterator[Stack]:
    """Rasa + actions with a known session secret; the search index warmed up."""
    work = tmp_path_factory.mktemp("widget")
    env = stack_env(work, TOUCHLINE_ACTION_TIMEOUT_S="60", TOUCHLINE_SESSION_SECRET=SECRET)
    stack = Stack(work, model, env).start()
    try:
        stack.say("warm-up", "running shoes under 100 dollars", timeout=180)
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="module")
def shop(widget_stack: Stack) -> str:
    """The FastAPI service (demo page + widget files) on its own port; its base URL."""
    return widget_stack.start_api()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# ---- helpers ---------------------------------------------------------------------------


class Widget:
    """One browser tab showing the demo shop with the widget; fails on any JS dialog."""

    def __init__(self, context: BrowserContext, shop: str) -> None:
        self.page: Page = context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(shop)
        self.page.locator("#touchline-chat .launcher").wait_for()

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self) -> Widget:
        """Open the panel (if closed) and wait until the session is confirmed."""
        if self.page.locator("#touchline-chat .panel").is_hidden():
            self.page.click("#touchline-chat .launcher")
        self.page.wait_for_function(
            "key => localStorage.getItem(key) !== null", arg=self.storage_key(), timeout=WAIT_MS
        )
        self.wait_status("")
        return self

    def storage_key(self) -> str:
        rasa = self.page.locator("script[data-rasa-url]").get_attribute("data-rasa-url")
        return f"touchline.session:{rasa}"

    def session(self) -> dict:
        """The ``{"session_id", "token"}`` the widget stored."""
        return json.loads(self.page.evaluate("k => localStorage.getItem(k)", self.storage_key()))

    def send(self, text: str) -> None:
        self.page.fill("#touchline-chat .input", text)
        self.page.press("#touchline-chat .input", "Enter")

    def messages(self) -> list[tuple[str, str]]:
        """``(from, text)`` of every bubble; a bot bubble's text is its text paragraph."""
        return [tuple(m) for m in self.page.evaluate(
            """() => [...document.querySelector('#touchline-chat').shadowRoot
                    .querySelectorAll('.msg')].map(m => [
                  m.classList.contains('user') ? 'user' : 'bot',
                  m.classList.contains('user') ? m.textContent
                    : (m.querySelector('.text') || {textContent: ''}).textContent])"""
        )]

    def bot_texts(self) -> list[str]:
        return [text for who, text in self.messages() if who == "bot"]

    def wait_bots(self, count: int) -> None:
        """Wait until ``count`` bot bubbles are shown and the typing indicator is gone."""
        self.page.wait_for_function(
            """n => { const r = document.querySelector('#touchline-chat').shadowRoot;
                      return r.querySelectorAll('.msg.bot').length >= n
                             && r.querySelector('.typing').hidden; }""",
            arg=count, timeout=WAIT_MS,
        )

    def wait_idle(self) -> None:
        """Wait until the typing indicator is hidden (the turn ended)."""
        self.page.wait_for_function(
            "() => document.querySelector('#touchline-chat').shadowRoot"
            ".querySelector('.typing').hidden",
            timeout=WAIT_MS,
        )

    def wait_status(self, text: str) -> None:
        self.page.wait_for_function(
            "t => document.querySelector('#touchline-chat').shadowRoot"
            ".querySelector('.status').textContent === t",
            arg=text, timeout=WAIT_MS,
        )

    def element_count(self, selector: str) -> int:
        """Elements matching ``selector`` inside the widget's shadow root."""
        return self.page.evaluate(
            "s => document.querySelector('#touchline-chat').shadowRoot"
            ".querySelectorAll(s).length",
            selector,
        )

    def assert_clean(self) -> None:
        assert self.dialogs == [], f"a dialog fired: {self.dialogs}"
        assert self.errors == [], self.errors


def seeded_context(browser: Browser, shop: str, rasa: str, session: dict) -> BrowserContext:
    """A fresh browser profile whose localStorage already holds ``session`` for the widget."""
    context = browser.new_context()
    key = json.dumps(f"touchline.session:{rasa}")
    value = json.dumps(json.dumps(session))
    context.add_init_script(
        f"if (location.origin === {json.dumps(shop)}) localStorage.setItem({key}, {value});"
    )
    return context


def sign(secret: str, session_id: str) -> str:
    """A token as the server computes it (HMAC-SHA256 over the session id)."""
    message = b"touchline-web-session:" + session_id.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


# ---- tests -----------------------------------------------------------------------------


def test_session_tokens_are_hmacs_of_the_id_with_the_secret(monkeypatch):
    monkeypatch.setenv("TOUCHLINE_SESSION_SECRET", SECRET)
    signer = SessionSigner.from_env()
    session_id, token = signer.issue()
    assert token == sign(SECRET, session_id)
    assert signer.verify(session_id, token)
    assert not signer.verify(session_id, sign("another-secret-0123456789", session_id))
    assert not signer.verify(session_id + "x", token)
    assert not signer.verify(session_id, token.upper())
    for bad in (None, 42, "", ["x"]):
        assert not signer.verify(bad, token)
        assert not signer.verify(session_id, bad)
    monkeypatch.delenv("TOUCHLINE_SESSION_SECRET")
    # Without a secret: one random key per process, so the widget and voice channels of one
    # Rasa server accept each other's tokens; it is not the configured secret.
    assert SessionSigner.from_env().token("s") == SessionSigner.from_env().token("s")
    assert SessionSigner.from_env().token("s") != signer.token("s")
    with pytest.raises(ValueError):
        SessionSigner(b"short")


def test_widget_files_and_demo_page(shop, widget_stack):
    page = httpx.get(f"{shop}/")
    assert page.status_code == 200
    tag = f'<script src="/widget.js" data-rasa-url="{widget_stack.url}"></script>'
    assert tag in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and f"ws://127.0.0.1:{widget_stack.rasa_port}" in csp
    for path, kind in [("/widget.js", "javascript"), ("/widget/widget.css", "css"),
                       ("/vendor/socket.io.min.js", "javascript")]:
        r = httpx.get(shop + path)
        assert r.status_code == 200 and kind in r.headers["content-type"], path
    assert httpx.get(f"{shop}/widget/demo.html").status_code == 404


def test_conversation_buttons_cards_takeover_and_history(browser, shop):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    tab = Widget(context, shop)
    save_screenshot(tab.page, "widget-closed.png")
    tab.open()

    tab.send("I'm looking for running shoes under 100 dollars")
    tab.wait_bots(2)
    assert "what I found" in tab.bot_texts()[0]
    cards = tab.page.locator("#touchline-chat .card")
    assert cards.count() == 3
    titles = cards.locator(".card-title").all_text_contents()
    assert not any(t in tab.bot_texts()[0] for t in titles)  # cards, not cards + a list
    assert "$" in cards.first.locator(".card-price").text_content()
    save_screenshot(tab.page, "widget-cards.png")

    tab.send("I was charged twice for my order")
    tab.wait_bots(3)
    assert "find your account" in tab.bot_texts()[-1]
    person = tab.page.locator("#touchline-chat .quick-reply", has_text="Talk to a person")
    assert person.is_enabled()
    person.click()
    tab.wait_bots(4)
    assert tab.messages()[-2] == ("user", "Talk to a person")
    assert "person" in tab.bot_texts()[-1]
    assert person.is_disabled()
    save_screenshot(tab.page, "widget-open.png")

    # A human took over (the ticket above): the bot stays silent on the widget.
    tab.send("hello? anyone there?")
    tab.wait_idle()
    assert len(tab.bot_texts()) == 4

    before = tab.messages()
    tab.page.reload()
    tab.page.locator("#touchline-chat .panel").wait_for()  # still open after the reload
    tab.page.wait_for_function(
        "n => document.querySelector('#touchline-chat').shadowRoot"
        ".querySelectorAll('.msg').length >= n",
        arg=len(before), timeout=WAIT_MS,
    )
    assert tab.messages() == before
    assert tab.page.locator("#touchline-chat .card").count() == 3
    assert person.is_disabled()
    tab.assert_clean()
    context.close()


def test_r7_markup_from_user_and_bot_is_inert_text(browser, shop, widget_stack):
    context = browser.new_context()
    tab = Widget(context, shop).open()
    for i, text in enumerate(MARKUP, start=1):
        tab.send(text)
        tab.wait_bots(i)
    users = [text for who, text in tab.messages() if who == "user"]
    assert users == MARKUP

    # The bot echoes markup (in text, a button title, a card and an image URL), sent live
    # to the widget through Rasa's HTTP API and the channel's output channel.
    session_id = tab.session()["session_id"]
    product = {"title": MARKUP[0], "brand": MARKUP[1], "price": 5, "currency": "USD",
               "stock": 1, "in_stock": True, "url": "javascript:alert(1)"}
    data = {"buttons": [{"title": MARKUP[1], "payload": "/affirm"}],
            "custom": {"type": "product_cards", "products": [product]},
            "image": "javascript:alert(1)"}
    events = [{"event": "bot", "text": text, "data": data if i == 0 else {}}
              for i, text in enumerate(MARKUP)]
    r = httpx.post(
        f"{widget_stack.url}/conversations/{session_id}/tracker/events",
        params={"token": widget_stack.token, "output_channel": "socketio",
                "execute_side_effects": "true"},
        json=events, timeout=30,
    )
    assert r.status_code == 200, r.text
    tab.wait_bots(len(MARKUP) + 2 + len(MARKUP) - 1)  # 1st: text+buttons and a card

    def check() -> None:
        bots = tab.bot_texts()
        for text in MARKUP:
            assert text in bots
        assert tab.page.locator("#touchline-chat .quick-reply").last.text_content() == MARKUP[1]
        assert tab.page.locator("#touchline-chat .card-title").text_content() == MARKUP[0]
        assert tab.element_count("img, script, iframe, object, embed, svg image") == 0
        assert tab.element_count("a") == 0  # javascript: URLs never become links
        assert tab.page.evaluate("document.querySelectorAll('img').length") == 0
        tab.assert_clean()

    check()
    tab.page.reload()
    tab.wait_bots(len(MARKUP) + 2 + len(MARKUP) - 1)
    check()
    stored = [e["text"] for e in widget_stack.tracker(session_id)["events"] if e["event"] == "user"]
    assert stored == MARKUP
    context.close()


def test_history_after_reload_is_complete_for_long_conversations(browser, shop, widget_stack):
    """Longer than the windowed tracker store's working tracker (about 120 events)."""
    context = browser.new_context()
    tab = Widget(context, shop).open()
    session_id = tab.session()["session_id"]
    turns = 60
    events = []
    for i in range(turns):
        events += [{"event": "action", "name": "action_listen"},
                   {"event": "user", "text": f"question {i}",
                    "parse_data": {"intent": {"name": "greet", "confidence": 1.0},
                                   "entities": [], "text": f"question {i}"}},
                   {"event": "bot", "text": f"answer {i}"}]
    r = httpx.post(
        f"{widget_stack.url}/conversations/{session_id}/tracker/events",
        params={"token": widget_stack.token}, json=events, timeout=60,
    )
    assert r.status_code == 200, r.text
    tab.page.reload()
    tab.wait_bots(turns)
    shown = tab.messages()
    assert shown[:2] == [("user", "question 0"), ("bot", "answer 0")]
    assert shown[-2:] == [("user", f"question {turns - 1}"), ("bot", f"answer {turns - 1}")]
    assert len(shown) == 2 * turns
    tab.assert_clean()
    context.close()


def test_r10_tabs_of_one_session_see_each_reply_once_others_none(browser, shop, widget_stack):
    s1 = browser.new_context()
    tab_a = Widget(s1, shop).open()
    tab_b = Widget(s1, shop).open()  # same profile: same stored session and token
    assert tab_a.session() == tab_b.session()
    s2 = browser.new_context()
    tab_c = Widget(s2, shop).open()
    session = tab_a.session()
    assert tab_c.session()["session_id"] != session["session_id"]

    tab_a.send("hello")
    tab_a.wait_bots(1)
    tab_b.wait_bots(1)
    tab_c.send("thank you")
    tab_c.wait_bots(1)
    tab_b.send("are you a bot?")
    tab_a.wait_bots(2)
    tab_b.wait_bots(2)
    tab_a.send("goodbye")
    tab_a.wait_bots(3)
    tab_b.wait_bots(3)

    expected = [("user", "hello"), ("bot", GREET), ("user", "are you a bot?"), ("bot", BOT),
                ("user", "goodbye"), ("bot", BYE)]
    for tab in (tab_a, tab_b):
        shown = tab.messages()
        assert [(who, text[: len(want)]) for (who, text), (_, want) in zip(shown, expected)] \
            == expected
        assert len(shown) == len(expected)
    assert [who for who, _ in tab_c.messages()] == ["user", "bot"]
    assert tab_c.bot_texts()[0].startswith(WELCOME)

    # Without the server's token for s1 nobody joins it: a forged token, a token made
    # with another secret, and no token all get a fresh, empty session.
    rasa = widget_stack.url
    sid = session["session_id"]
    intruders = []
    for token in ("0" * 64, sign("not-the-server-secret-000000", sid), ""):
        context = seeded_context(browser, shop, rasa, {"session_id": sid, "token": token})
        intruder = Widget(context, shop).open()
        assert intruder.session()["session_id"] != sid
        assert intruder.messages() == []
        intruders.append(intruder)
    tab_a.send("thanks")
    tab_a.wait_bots(4)
    tab_b.wait_bots(4)
    for intruder in intruders:
        assert intruder.messages() == []
    assert len(tab_c.messages()) == 2

    # The server's own HMAC (the test knows the secret) does resume s1, with its history.
    owner = seeded_context(browser, shop, rasa, {"session_id": sid, "token": sign(SECRET, sid)})
    resumed = Widget(owner, shop).open()
    assert resumed.session()["session_id"] == sid
    assert resumed.messages() == tab_a.messages()

    for tab in (tab_a, tab_b, tab_c, resumed, *intruders):
        tab.assert_clean()
    for context in (s1, s2, owner, *(t.page.context for t in intruders)):
        context.close()


def test_r11_five_quick_messages_five_replies_in_order(browser, shop, widget_stack):
    context = browser.new_context()
    tab = Widget(context, shop).open()
    burst = ["hello", "are you a bot?", "thank you", "what's the weather on mars", "goodbye"]
    for text in burst:
        tab.send(text)
    tab.wait_bots(5)
    assert [text for who, text in tab.messages() if who == "user"] == burst
    replies = tab.bot_texts()
    assert len(replies) == 5
    for reply, want in zip(replies, [GREET, BOT, WELCOME, OUT_OF_SCOPE, BYE]):
        assert reply.startswith(want), (reply, want)
    assert "LockError" not in widget_stack.log("rasa").read_text()
    tab.assert_clean()
    context.close()


def test_reconnect_after_dropped_connection_keeps_the_session(browser, shop, widget_stack):
    context = browser.new_context()
    tab = Widget(context, shop).open()
    session = tab.session()
    tab.send("hello")
    tab.wait_bots(1)

    context.set_offline(True)  # drops the WebSocket
    tab.wait_status("Reconnecting…")
    tab.send("are you a bot?")  # typed while offline: sent once the session is resumed
    context.set_offline(False)
    tab.wait_bots(2)

    assert tab.session() == session
    assert [who for who, _ in tab.messages()] == ["user", "bot", "user", "bot"]
    assert tab.bot_texts()[1].startswith(BOT)
    users = [e["text"] for e in widget_stack.tracker(session["session_id"])["events"]
             if e["event"] == "user"]
    assert users == ["hello", "are you a bot?"]
    tab.assert_clean()
    context.close()


def test_session_survives_a_rasa_restart(browser, shop, widget_stack):
    """The server drops every socket; with the secret from the environment the token
    still resumes the session on the new process (runs last: it restarts the stack)."""
    context = browser.new_context()
    tab = Widget(context, shop).open()
    session = tab.session()
    tab.send("hello")
    tab.wait_bots(1)

    widget_stack.close()
    tab.wait_status("Reconnecting…")
    widget_stack.start()
    tab.wait_status("")
    tab.send("are you a bot?")
    tab.wait_bots(2)

    assert tab.session() == session
    assert [who for who, _ in tab.messages()] == ["user", "bot", "user", "bot"]
    assert tab.bot_texts()[1].startswith(BOT)
    tab.assert_clean()
    context.close()
