"""The website chat widget in headless Chromium against real servers.

A Rasa server + action server (``testing.stack.Stack``, with the socket.io channel of
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
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from bot.store import customers
from bot.store.db import session_scope
from bot.store.identity import redeem_telegram_link
from connectors.sessions import SessionSigner
from testing.sio_client import Tab, run
from testing.stack import Stack, free_port, stack_env
from tests.e2e.screenshots import save_screenshot

pytestmark = pytest.mark.slow

SECRET = "widget-test-secret-0123456789abcdef"
WAIT_MS = 30_000
HISTORY_TURNS = 20
"""Turns the widget gets when it resumes, and per "Show earlier messages"."""
SOCKET_IO = re.compile(r".*/socket\.io/.*")
BLOCK_WEBSOCKET = """
window.WebSocket = class BlockedWebSocket extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.readyState = 0;
    setTimeout(() => {  // as behind a proxy that refuses the upgrade
      this.readyState = 3;
      if (this.onerror) this.onerror(new Event("error"));
      if (this.onclose) this.onclose(new CloseEvent("close", { code: 1006 }));
    }, 10);
  }
  send() { throw new DOMException("not open", "InvalidStateError"); }
  close() {}
};
"""
"""A page script making every WebSocket fail to connect, as on a network that blocks them."""
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
def shop_port() -> int:
    """The demo shop's port, known before Rasa starts (Rasa's ``--cors`` names its origin)."""
    return free_port()


@pytest.fixture(scope="module")
def widget_stack(model, tmp_path_factory, shop_port) -> Iterator[Stack]:
    """Rasa + actions (one worker) with a known session secret, history pages of
    :data:`HISTORY_TURNS` turns and CORS for the shop (long-polling); the search index
    warmed up."""
    work = tmp_path_factory.mktemp("widget")
    env = stack_env(work, TOUCHLINE_ACTION_TIMEOUT_S="60", TOUCHLINE_SESSION_SECRET=SECRET,
                    TOUCHLINE_WIDGET_HISTORY_TURNS=str(HISTORY_TURNS))
    stack = Stack(work, model, env, cors=(f"http://127.0.0.1:{shop_port}",)).start()
    try:
        stack.say("warm-up", "running shoes under 100 dollars", timeout=180)
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="module")
def shop(widget_stack: Stack, shop_port: int) -> str:
    """The FastAPI service (demo page + widget files) on its own port; its base URL."""
    return widget_stack.start_api(shop_port)


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

    def wait_bot_texts(self, texts: list[str]) -> None:
        """Wait until every one of ``texts`` is the text of a bot bubble (pushed messages
        arrive one by one; counting bubbles can pass before the last one is shown)."""
        self.page.wait_for_function(
            """ts => { const shown = new Set([...document.querySelector('#touchline-chat')
                         .shadowRoot.querySelectorAll('.msg.bot .text')]
                         .map(n => n.textContent));
                       return ts.every(t => shown.has(t)); }""",
            arg=texts, timeout=WAIT_MS,
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
    assert "sign in" in tab.bot_texts()[-1]  # an anonymous visitor
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


def test_demo_login_signs_the_widget_in_and_logout_starts_anonymous(browser, shop):
    """The README's sample: a visitor is anonymous; signed in on the demo shop page the
    widget talks as that customer (their cart), also after a reload; signing out starts a
    new anonymous conversation."""
    context = browser.new_context()
    tab = Widget(context, shop).open()
    page = tab.page
    tab.send("my cart is broken")
    tab.wait_bots(1)
    assert "sign in" in tab.bot_texts()[-1]

    page.fill("#login input[name=email]", "bob@example.com")
    page.fill("#login input[name=password]", "not-bobs-password")
    page.click("#sign-in")
    page.wait_for_selector("#login-error:has-text('Wrong e-mail address or password')")
    page.fill("#login input[name=password]", "bob-demo")
    page.click("#sign-in")
    page.wait_for_selector("#signed-in:has-text('Signed in as Bob Chen')")
    page.wait_for_function(  # a new conversation: the anonymous one is no longer shown
        "() => document.querySelector('#touchline-chat').shadowRoot"
        ".querySelectorAll('.msg').length === 0", timeout=WAIT_MS)
    tab.wait_status("")
    tab.send("my cart is broken")
    tab.wait_bots(1)
    assert any("Eyeshadow Palette with Mirror" in text for text in tab.bot_texts())

    page.reload()  # the page now carries a fresh identity token on the widget's tag
    tag = page.locator("script[data-rasa-url]")
    assert tag.get_attribute("data-identity-token")
    page.wait_for_selector("#signed-in:has-text('Signed in as Bob Chen')")
    if page.locator("#touchline-chat .panel").is_hidden():
        page.click("#touchline-chat .launcher")
    tab.wait_bots(1)  # the signed-in conversation's history
    assert ("user", "my cart is broken") in tab.messages()
    assert any("Eyeshadow Palette with Mirror" in text for text in tab.bot_texts())

    page.click("#sign-out")
    page.wait_for_selector("#sign-in:visible")
    page.wait_for_function(
        "() => document.querySelector('#touchline-chat').shadowRoot"
        ".querySelectorAll('.msg').length === 0", timeout=WAIT_MS)
    tab.wait_status("")
    tab.send("my cart is broken")
    tab.wait_bots(1)
    assert "sign in" in tab.bot_texts()[-1]
    assert not any("Eyeshadow" in text for text in tab.bot_texts())
    tab.assert_clean()
    context.close()


def test_a_sign_in_revoked_elsewhere_turns_the_open_chat_into_a_guest_chat(browser, shop):
    """Signed out through the shop in another tab (the login's tokens are revoked), the
    open chat's next message is answered as a guest's, with a notice to sign in again; the
    chat goes on (no reload)."""
    context = browser.new_context()
    tab = Widget(context, shop).open()
    page = tab.page
    page.fill("#login input[name=email]", "bob@example.com")
    page.fill("#login input[name=password]", "bob-demo")
    page.click("#sign-in")
    page.wait_for_selector("#signed-in:has-text('Signed in as Bob Chen')")
    tab.wait_status("")
    tab.send("my cart is broken")
    tab.wait_bots(1)
    assert any("Eyeshadow Palette with Mirror" in text for text in tab.bot_texts())
    assert context.request.post(f"{shop}/demo/logout").ok  # another tab of the shop
    tab.send("my cart is broken")
    page.wait_for_function(
        "() => document.querySelector('#touchline-chat').shadowRoot"
        ".querySelector('.notice') !== null", timeout=WAIT_MS)
    tab.wait_bots(1)
    notice = page.evaluate("() => document.querySelector('#touchline-chat').shadowRoot"
                           ".querySelector('.notice').textContent")
    assert "sign-in for this chat has ended" in notice and "sign in again" in notice
    assert "sign in" in tab.bot_texts()[-1]
    assert not any("Eyeshadow" in text for text in tab.bot_texts())
    tab.send("thank you")  # the guest chat goes on
    tab.wait_bots(2)
    tab.assert_clean()
    context.close()


def test_demo_page_links_telegram_for_a_signed_in_customer(browser, shop, widget_stack):
    """"Link Telegram" shows the one-time deep link and its code (as text), and the code
    links a chat to the signed-in customer once; signed out, the button is gone."""
    context = browser.new_context(viewport={"width": 1100, "height": 700})
    page = context.new_page()
    page.goto(shop)
    assert page.locator("#telegram").is_hidden()
    page.fill("#login input[name=email]", "bob@example.com")
    page.fill("#login input[name=password]", "bob-demo")
    page.click("#sign-in")
    page.wait_for_selector("#signed-in:has-text('Signed in as Bob Chen')")
    page.click("#telegram")
    link = page.locator("#telegram-url")
    link.wait_for()
    url = link.text_content() or ""
    match = re.fullmatch(r"https://t\.me/\w+\?start=([\w-]+)", url)
    assert match and link.get_attribute("href") == url
    code = match.group(1)
    assert f"/start {code}" in (page.locator("#telegram-code").text_content() or "")
    assert page.locator("#telegram-link a").count() == 1  # nothing else became markup
    # The token is random: the README's image shows a fixed one, so that it is rewritten
    # only when the page itself changes.
    page.evaluate("""code => {
        const example = "Ex4mple-0ne-T1me-C0de_abcdefghijk";
        for (const id of ["telegram-url", "telegram-code"]) {
            const el = document.getElementById(id);
            el.textContent = el.textContent.replace(code, example);
        }
    }""", code)
    save_screenshot(page, "demo-telegram-link.png")
    with session_scope(widget_stack.env["DATABASE_URL"]) as session:
        bob = customers.by_email(session, "bob@example.com").id
        linked = redeem_telegram_link(session, code, 424242)
        assert linked is not None and linked.id == bob
        assert redeem_telegram_link(session, code, 434343) is None  # single use
    page.click("#sign-out")
    page.wait_for_selector("#sign-in:visible")
    assert page.locator("#telegram").is_hidden() and page.locator("#telegram-link").is_hidden()
    page.context.clear_cookies()  # a login that ended elsewhere: the page says so
    page.evaluate("() => { for (const el of document.querySelectorAll('#telegram')) "
                  "el.hidden = false; }")
    page.click("#telegram")
    page.wait_for_selector("#telegram-text:has-text('Please sign in again.')")
    assert page.locator("#telegram-url").is_hidden()
    context.close()


def test_demo_login_api_mints_tokens_only_for_a_login(shop, widget_stack):
    assert httpx.post(f"{shop}/demo/identity").status_code == 401
    wrong = httpx.post(f"{shop}/demo/login", json={"email": "bob@example.com",
                                                   "password": "alice-demo"})
    assert wrong.status_code == 401
    with httpx.Client() as client:
        login = client.post(f"{shop}/demo/login", json={"email": "Bob@Example.com",
                                                        "password": "bob-demo"})
        assert login.status_code == 200 and login.json()["name"] == "Bob Chen"
        assert "httponly" in login.headers["set-cookie"].lower()
        fresh = client.post(f"{shop}/demo/identity")
        assert fresh.status_code == 200 and fresh.json()["token"] != login.json()["token"]
        client.post(f"{shop}/demo/logout")
        assert client.post(f"{shop}/demo/identity").status_code == 401
    # the login cookie's token is not an identity token
    cookie = login.cookies["touchline_demo_login"]
    r = httpx.post(f"{widget_stack.url}/webhooks/rest/webhook", json={
        "sender": "x", "message": "hi", "metadata": {"customer_token": cookie}})
    assert r.status_code == 401


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
    tab.wait_bot_texts(MARKUP)

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
    tab.wait_bot_texts(MARKUP)
    check()
    stored = [e["text"] for e in widget_stack.tracker(session_id)["events"] if e["event"] == "user"]
    assert stored == MARKUP
    context.close()


def add_turns(stack: Stack, session_id: str, turns: int) -> None:
    """Append ``turns`` scripted turns (``question i`` / ``answer i``) through Rasa's HTTP API."""
    events = []
    for i in range(turns):
        events += [{"event": "action", "name": "action_listen"},
                   {"event": "user", "text": f"question {i}",
                    "parse_data": {"intent": {"name": "greet", "confidence": 1.0},
                                   "entities": [], "text": f"question {i}"}},
                   {"event": "bot", "text": f"answer {i}"}]
    r = httpx.post(
        f"{stack.url}/conversations/{session_id}/tracker/events",
        params={"token": stack.token}, json=events, timeout=120,
    )
    assert r.status_code == 200, r.text


def test_a_long_conversation_resumes_with_its_last_turns_and_more_on_request(
    browser, shop, widget_stack,
):
    """Longer than the windowed tracker store's working tracker (about 120 events) and
    than three pages of history."""
    context = browser.new_context()
    tab = Widget(context, shop).open()
    session_id = tab.session()["session_id"]
    turns = 3 * HISTORY_TURNS
    add_turns(widget_stack, session_id, turns)
    tab.page.reload()
    tab.wait_bots(HISTORY_TURNS)
    shown = tab.messages()
    assert len(shown) == 2 * HISTORY_TURNS
    assert shown[:2] == [("user", f"question {turns - HISTORY_TURNS}"),
                         ("bot", f"answer {turns - HISTORY_TURNS}")]
    more = tab.page.locator("#touchline-chat .more")
    for page in (2, 3):
        more.click()
        tab.wait_bots(page * HISTORY_TURNS)
    assert more.count() == 0  # the start of the conversation is shown
    assert tab.messages() == [(who, f"{word} {i}") for i in range(turns)
                              for who, word in (("user", "question"), ("bot", "answer"))]
    tab.assert_clean()
    context.close()


def test_resume_sends_at_most_the_last_turns_then_pages_back_to_the_start(widget_stack):
    async def main() -> None:
        tab, session = await Tab.open(widget_stack, None)
        await tab.ws.close()
        turns = 300
        add_turns(widget_stack, session["session_id"], turns)
        tab, page = await Tab.open(widget_stack, {k: session[k] for k in ("session_id", "token")})
        pages = [page]
        while pages[-1]["more"]:
            request = {"before": pages[-1]["before"]}
            pages.append(await tab.ack(await tab.request("history_request", request)))
        await tab.ws.close()
        users = [[m["text"] for m in p["history"] if m["from"] == "user"] for p in pages]
        assert [len(u) for u in users] == [HISTORY_TURNS] * (turns // HISTORY_TURNS)
        assert [text for u in reversed(users) for text in u] == [
            f"question {i}" for i in range(turns)]

    run(main())


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


# ---- messages typed just before the connection drops -------------------------------------


def test_messages_sent_just_before_the_connection_drops_are_kept_once_when_resent(
    widget_stack,
):
    """Each message is followed at once by a close; the resend after reconnecting is
    acknowledged, and the conversation holds every message exactly once."""

    async def main() -> None:
        tab, session = await Tab.open(widget_stack, None)
        resume = {k: session[k] for k in ("session_id", "token")}
        for i in range(10):
            message = {"message": f"thank you {i}", "id": f"{session['session_id']}-{i}"}
            await tab.request("user_uttered", message)
            await tab.ws.close()
            tab, _ = await Tab.open(widget_stack, resume)
            answer = await tab.ack(await tab.request("user_uttered", message))
            assert answer in ({"status": "ok", "id": message["id"]},
                              {"status": "duplicate", "id": message["id"]}), answer
        await tab.ws.close()
        events = widget_stack.tracker(session["session_id"])["events"]
        assert [e["text"] for e in events if e["event"] == "user"] == [
            f"thank you {i}" for i in range(10)]

    run(main())


def drop_first_frame(context: BrowserContext, to_server: bool, matches) -> list[str]:  # noqa: ANN001
    """Route the widget's WebSocket through Playwright: the first text frame in the chosen
    direction for which ``matches(frame)`` holds is dropped and the page's connection
    closed at once (a connection that fails just then).  Returns the dropped frames."""
    dropped: list[str] = []

    def route(ws) -> None:  # noqa: ANN001
        server = ws.connect_to_server()

        def forward(message: str | bytes, send) -> None:  # noqa: ANN001
            if not dropped and isinstance(message, str) and matches(message):
                dropped.append(message)
                ws.close()
            else:
                send(message)

        if to_server:
            ws.on_message(lambda message: forward(message, server.send))
        else:
            server.on_message(lambda message: forward(message, ws.send))

    context.route_web_socket(SOCKET_IO, route)
    return dropped


def test_widget_resends_a_message_the_server_never_received(browser, shop, widget_stack):
    context = browser.new_context()
    dropped = drop_first_frame(context, True, lambda frame: '"user_uttered"' in frame)
    tab = Widget(context, shop).open()
    tab.send("are you a bot?")
    tab.wait_bots(1)
    assert dropped
    assert [who for who, _ in tab.messages()] == ["user", "bot"]
    assert tab.bot_texts()[0].startswith(BOT)
    users = [e["text"] for e in widget_stack.tracker(tab.session()["session_id"])["events"]
             if e["event"] == "user"]
    assert users == ["are you a bot?"]
    tab.assert_clean()
    context.close()


def test_widget_does_not_repeat_a_message_whose_acknowledgement_was_lost(
    browser, shop, widget_stack,
):
    context = browser.new_context()
    # The server took the message and answered, the widget never heard the acknowledgement.
    dropped = drop_first_frame(context, False, lambda frame: frame.startswith("43"))
    tab = Widget(context, shop).open()
    tab.send("thank you")
    tab.wait_bots(1)
    tab.wait_status("")  # reconnected
    tab.send("are you a bot?")
    tab.wait_bots(2)
    assert dropped
    assert [who for who, _ in tab.messages()] == ["user", "bot", "user", "bot"]
    users = [e["text"] for e in widget_stack.tracker(tab.session()["session_id"])["events"]
             if e["event"] == "user"]
    assert users == ["thank you", "are you a bot?"]
    tab.assert_clean()
    context.close()


# ---- HTTP long-polling (one worker) --------------------------------------------------------


def poll_until(http: httpx.Client, url: str, event: str) -> dict:
    """Long-poll ``url`` until Socket.IO event ``event`` arrives (answering pings)."""
    for _ in range(20):
        for packet in http.get(url).text.split("\x1e"):
            if packet == "2":
                http.post(url, content="3")
            elif packet.startswith("42") and json.loads(packet[2:])[0] == event:
                return json.loads(packet[2:])[1]
    raise AssertionError(f"no {event} after 20 polls")


def test_long_polling_works_end_to_end_with_one_worker(widget_stack):
    base = f"{widget_stack.url}/socket.io/?EIO=4&transport=polling"
    with httpx.Client(timeout=30) as http:
        opened = http.get(base)
        assert opened.status_code == 200 and opened.text.startswith("0"), opened.text
        url = f"{base}&sid={json.loads(opened.text[1:])['sid']}"
        assert http.post(url, content="40").status_code == 200
        assert http.get(url).text.startswith("40")
        http.post(url, content='42["session_request",{}]')
        assert not poll_until(http, url, "session_confirm")["resumed"]
        http.post(url, content='42["user_uttered",{"message":"are you a bot?"}]')
        assert poll_until(http, url, "bot_uttered")["text"].startswith(BOT)


def test_widget_falls_back_to_polling_where_websockets_are_blocked(browser, shop):
    context = browser.new_context()
    context.add_init_script(BLOCK_WEBSOCKET)
    tab = Widget(context, shop).open()
    tab.send("are you a bot?")
    tab.wait_bots(1)
    assert tab.bot_texts()[0].startswith(BOT)
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
