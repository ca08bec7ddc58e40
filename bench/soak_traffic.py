"""The simulated customers of the soak run (:mod:`bench.soak`), and what they record.

* REST customers post a turn, read the answer, think, and post the next one; each message
  carries ``metadata.soak_id``.
* Widget sessions have two tabs (:class:`testing.sio_client.Tab`); each turn is typed in
  one of them (now and then in both at the same moment) with an id and acknowledged
  emits, as ``widget.js`` does.  Now and then a tab drops its connection right after
  sending, comes back a moment later with the session's token and sends again every
  message the server has not acknowledged (minus those the resumed history holds).
* Telegram chats post updates to the webhook (the Bot API is :mod:`testing.fake_telegram`)
  and wait for the bot's answer; now and then an update is delivered a second time, as
  Telegram does when it misses a 200.
* Complaining customers, each with a duplicate payment and signed in (an identity token
  on REST and in the widget, a linked chat on Telegram), send "I was charged twice for my
  order" twice at once and a third time later, over one of the three channels.

Every message sent is a :class:`Sent` in the :class:`Ledger`; :mod:`bench.soak_count`
compares the ledger with what the stores hold afterwards.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.dialogue.turn import ConversationId
from bot.identity.tokens import mint
from connectors.telegram import SECRET_HEADER
from testing import telegram_updates
from testing.fake_telegram import FakeBotApi
from testing.sio_client import Tab, turns
from testing.stack import Stack

SCRIPT = (
    "hello",
    "where is my order TL-10001",
    "are you a bot?",
    "thanks!",
    "can you check order TL-10003",
    "why did my payment fail?",
)
"""What customers say (greetings, order look-ups, payment questions; none asks for a
person, which would hand the conversation to an agent and silence the bot)."""
COMPLAINT = "I was charged twice for my order"
ACK_TIMEOUT_S = 60.0
"""How long a tab waits for the acknowledgement of a message before it counts as pending."""
TELEGRAM_SECRET = "soak-Secret_token-42"


@dataclass
class Sent:
    """One message a simulated customer sent (maybe several times)."""

    channel: str
    """``rest``, ``widget`` or ``telegram``."""
    key: str
    """Its id: REST ``metadata.soak_id``, the widget's ``client_id``, the Telegram
    ``update_id``."""
    sender: str
    """The conversation (the tracker's ``sender_id``)."""
    text: str
    attempts: int = 0
    """How many times it went out (widget resends, Telegram redeliveries)."""
    accepted: bool = False
    """The server took it (REST 200, widget ``ok``/``duplicate``, Telegram ``accepted``)."""
    duplicates: int = 0
    """Answers that it had been taken already (widget ``duplicate``, Telegram)."""
    replies: list[str] = field(default_factory=list)
    """REST: the texts of the bot messages answered."""


@dataclass
class Ledger:
    """Everything the simulated customers did."""

    sent: list[Sent] = field(default_factory=list)
    tabs: list[SoakTab] = field(default_factory=list)
    complainers: dict[int, str] = field(default_factory=dict)
    """Customer id -> channel of each complaining customer."""
    errors: list[str] = field(default_factory=list)
    """Client-side failures: an HTTP error, an acknowledgement that never came."""
    disconnects: int = 0

    def record(self, channel: str, key: str, sender: str, text: str) -> Sent:
        """A new :class:`Sent` entry."""
        entry = Sent(channel, key, sender, text)
        self.sent.append(entry)
        return entry


@dataclass
class Traffic:
    """The shared state of one soak run's users."""

    stack: Stack
    fake: FakeBotApi
    end: float
    """``time.monotonic()`` after which no user starts a new turn."""
    rng: random.Random
    think_s: float = 2.0
    """Mean pause between a user's turns (uniform in 0.5-1.5 times this)."""
    disconnect_p: float = 0.15
    """Chance that a widget tab drops its connection right after sending."""
    both_p: float = 0.2
    """Chance that both tabs of a widget session send a message at the same moment."""
    redeliver_p: float = 0.1
    """Chance that a Telegram update is delivered twice."""
    session_turns: int = 16
    """Turns of one widget session before it closes and a new one starts (below the 50
    turns a resume sends, so a reconnecting tab gets the whole conversation)."""
    ledger: Ledger = field(default_factory=Ledger)

    def more(self) -> bool:
        """Whether a user may start another turn."""
        return time.monotonic() < self.end

    def identity_token(self, customer: int, conversation: str) -> str:
        """An identity token for ``customer`` in ``conversation``, as the shop's backend
        mints one (:func:`bot.identity.tokens.mint`, the stack's identity secret)."""
        return mint(customer, conversation, self.stack.env["TOUCHLINE_IDENTITY_SECRET"])

    async def think(self) -> None:
        """A customer's pause between turns."""
        await asyncio.sleep(self.think_s * self.rng.uniform(0.5, 1.5))


# ---- REST -----------------------------------------------------------------------------------


async def rest_say(traffic: Traffic, client: httpx.AsyncClient, sender: str, text: str,
                   customer: int | None = None) -> Sent:
    """Post one message over REST and record it and its answer; with ``customer``, signed
    in as that customer by a fresh identity token (:meth:`Traffic.identity_token`)."""
    sent = traffic.ledger.record("rest", uuid.uuid4().hex, sender, text)
    sent.attempts += 1
    metadata: dict[str, Any] = {"soak_id": sent.key}
    if customer is not None:
        metadata["customer_token"] = traffic.identity_token(customer, sender)
    try:
        r = await client.post(f"{traffic.stack.url}/webhooks/rest/webhook",
                              json={"sender": sender, "message": text, "metadata": metadata})
    except httpx.HTTPError as error:
        traffic.ledger.errors.append(f"rest {sender}: {error!r}")
        return sent
    if r.status_code == 200:
        sent.accepted = True
        sent.replies = [str(m.get("text") or "") for m in r.json()]
    else:
        traffic.ledger.errors.append(f"rest {sender}: HTTP {r.status_code} {r.text[:200]}")
    return sent


async def rest_user(traffic: Traffic, n: int) -> None:
    """A REST customer talking until the run ends."""
    async with httpx.AsyncClient(timeout=60) as client:
        while traffic.more():
            await rest_say(traffic, client, f"soak-rest-{n}", traffic.rng.choice(SCRIPT))
            await traffic.think()


async def rest_complaint(traffic: Traffic, sender: str, customer: int) -> None:
    """The complaint twice at once, then once more, signed in as ``customer``."""
    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(rest_say(traffic, client, sender, COMPLAINT, customer)
                               for _ in range(2)))
        await traffic.think()
        await rest_say(traffic, client, sender, COMPLAINT, customer)


# ---- widget ---------------------------------------------------------------------------------


class SoakTab:
    """One widget tab: its connections one after another, each with the ``session_confirm``
    that opened it, and the messages it sent that the server has not acknowledged."""

    def __init__(self, traffic: Traffic, name: str) -> None:
        """Args: traffic: the run; name: for error messages."""
        self.traffic, self.name = traffic, name
        self.connections: list[tuple[dict[str, Any], Tab]] = []
        self.own: set[str] = set()
        self.pending: dict[str, Sent] = {}
        self._pump: asyncio.Task[None] | None = None
        self._connecting = asyncio.Lock()

    @property
    def tab(self) -> Tab | None:
        """The open connection (``None`` while disconnected)."""
        if self._pump is None or self._pump.done():
            return None
        return self.connections[-1][1]

    async def connect(self, session: dict[str, str] | None) -> dict[str, Any]:
        """Open a connection (unless one is open) and join ``session`` (``None``: a new
        one); then send every pending message the resumed history does not hold.

        Returns:
            The ``session_confirm`` data of the open connection.
        """
        async with self._connecting:
            if self.tab is not None:
                return self.connections[-1][0]
            tab, confirmed = await Tab.open(self.traffic.stack, session)
            self.connections.append((confirmed, tab))
            self._pump = asyncio.create_task(tab.pump())
        for item in confirmed.get("history") or []:
            sent = self.pending.pop(str(item.get("id")), None)
            if sent is not None:
                sent.accepted = True
        for sent in list(self.pending.values()):
            await self.send(sent)
        return confirmed

    async def send(self, sent: Sent, drop: bool = False) -> None:
        """Send ``sent`` (again) and wait for its acknowledgement, unless ``drop``: then the
        connection is cut right after sending."""
        tab = self.tab
        if tab is None:
            return  # sent after the next reconnect
        self.own.add(sent.key)
        self.pending[sent.key] = sent
        sent.attempts += 1
        ack_id = await tab.request("user_uttered", {"message": sent.text, "id": sent.key})
        if drop:
            self.traffic.ledger.disconnects += 1
            tab.ws.transport.abort()
            return
        deadline = time.monotonic() + ACK_TIMEOUT_S
        while ack_id not in tab.acks and self.tab is tab and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        answer = tab.acks.get(ack_id)
        if isinstance(answer, dict) and answer.get("status") in ("ok", "duplicate"):
            sent.accepted = True
            sent.duplicates += answer["status"] == "duplicate"
            self.pending.pop(sent.key, None)
        elif self.tab is tab:
            self.traffic.ledger.errors.append(f"widget {self.name}: {sent.key} answered "
                                              f"{answer!r}")

    async def close(self) -> None:
        """Close the open connection."""
        tab = self.tab
        if tab is not None:
            await tab.ws.close()
        if self._pump is not None:
            await self._pump


async def widget_session(traffic: Traffic, name: str, turns: int,
                         signed_in: tuple[int, str] | None = None) -> None:
    """One widget session of two tabs: ``turns`` turns (or until the run ends), typed in
    a random tab or in both at once; a tab that dropped comes back 0.5-3 s later.  With
    ``signed_in`` (customer id, conversation id), the first tab joins with an identity
    token the shop minted, both tabs rejoin with the resume token the server gave it, and
    both tabs complain at once and one tab once more."""
    tabs = [SoakTab(traffic, f"{name}-a"), SoakTab(traffic, f"{name}-b")]
    traffic.ledger.tabs += tabs
    if signed_in is None:
        confirmed = await tabs[0].connect(None)
        session = {"session_id": confirmed["session_id"], "token": confirmed["token"]}
    else:
        token = traffic.identity_token(*signed_in)
        confirmed = await tabs[0].connect({"identity": token})
        session = {"resume": confirmed["resume"]}
    sender = confirmed["session_id"]
    await tabs[1].connect(session)
    returns: list[asyncio.Task[Any]] = []

    async def come_back(tab: SoakTab) -> None:
        await asyncio.sleep(traffic.rng.uniform(0.5, 3.0))
        await tab.connect(session)

    def message(text: str) -> Sent:
        return traffic.ledger.record("widget", uuid.uuid4().hex, sender, text)

    if signed_in is not None:
        await asyncio.gather(*(tab.send(message(COMPLAINT)) for tab in tabs))
        await traffic.think()
        await tabs[0].send(message(COMPLAINT))
    for _ in range(turns):
        if not traffic.more():
            break
        if traffic.rng.random() < traffic.both_p and all(t.tab is not None for t in tabs):
            await asyncio.gather(*(t.send(message(traffic.rng.choice(SCRIPT))) for t in tabs))
            await traffic.think()
            continue
        tab = traffic.rng.choice([t for t in tabs if t.tab is not None] or tabs)
        if tab.tab is None:
            await tab.connect(session)
        drop = traffic.rng.random() < traffic.disconnect_p
        await tab.send(message(traffic.rng.choice(SCRIPT)), drop=drop)
        if drop:
            returns.append(asyncio.create_task(come_back(tab)))
        await traffic.think()
    await asyncio.gather(*returns)
    for tab in tabs:  # what is still pending goes out once more, as after a reconnect
        for sent in list(tab.pending.values()):
            await tab.send(sent)
    await settle(tabs, sum(sent.accepted for sent in traffic.ledger.sent
                           if sent.sender == sender))
    for tab in tabs:
        await tab.close()


def seen_turns(tab: SoakTab) -> int:
    """Whole turns the tab's open connection shows: the resumed history and those since."""
    confirmed, connection = tab.connections[-1]
    history = sum(item.get("from") == "user" for item in confirmed.get("history") or [])
    return history + sum(t.whole for t in turns(connection.events)[0])


async def settle(tabs: list[SoakTab], accepted: int, timeout: float = 30) -> None:
    """Wait until every tab shows ``accepted`` turns (the last replies reach the tab on
    the other worker a moment after the sender's acknowledgement)."""
    deadline = time.monotonic() + timeout
    while any(seen_turns(tab) < accepted for tab in tabs) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def widget_user(traffic: Traffic, n: int) -> None:
    """Widget sessions one after another until the run ends."""
    for k in range(10**6):
        if not traffic.more():
            return
        await widget_session(traffic, f"w{n}.{k}", traffic.session_turns)


# ---- Telegram -------------------------------------------------------------------------------


async def telegram_say(traffic: Traffic, client: httpx.AsyncClient, chat: int, text: str,
                       redeliver: bool = False) -> Sent:
    """Post one message update to the webhook (twice with ``redeliver``) and record it."""
    body = telegram_updates.message(chat, text)
    conversation = str(ConversationId.telegram(chat))
    sent = traffic.ledger.record("telegram", str(body["update_id"]), conversation, text)
    for _ in range(2 if redeliver else 1):
        sent.attempts += 1
        try:
            r = await client.post(f"{traffic.stack.url}/webhooks/telegram/webhook", json=body,
                                  headers={SECRET_HEADER: TELEGRAM_SECRET})
        except httpx.HTTPError as error:
            traffic.ledger.errors.append(f"telegram {chat}: {error!r}")
            continue
        status = r.json().get("status") if r.status_code == 200 else None
        if status == "accepted":
            sent.accepted = True
        elif status == "duplicate":
            sent.duplicates += 1
        else:
            traffic.ledger.errors.append(f"telegram {chat}: HTTP {r.status_code} {r.text[:200]}")
    return sent


async def telegram_answered(traffic: Traffic, chat: int, before: int,
                            timeout: float = 60) -> None:
    """Wait until the bot sent ``chat`` something more than ``before`` messages."""
    deadline = time.monotonic() + timeout
    while len(traffic.fake.sent(chat_id=chat)) <= before and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def telegram_user(traffic: Traffic, chat: int) -> None:
    """A Telegram chat talking until the run ends, waiting for each answer."""
    async with httpx.AsyncClient(timeout=60) as client:
        while traffic.more():
            before = len(traffic.fake.sent(chat_id=chat))
            await telegram_say(traffic, client, chat, traffic.rng.choice(SCRIPT),
                               redeliver=traffic.rng.random() < traffic.redeliver_p)
            await telegram_answered(traffic, chat, before)
            await traffic.think()


async def telegram_complaint(traffic: Traffic, chat: int) -> None:
    """The complaint in two updates at once, then in a third."""
    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(telegram_say(traffic, client, chat, COMPLAINT)
                               for _ in range(2)))
        await traffic.think()
        before = len(traffic.fake.sent(chat_id=chat))
        await telegram_say(traffic, client, chat, COMPLAINT, redeliver=True)
        await telegram_answered(traffic, chat, before)
