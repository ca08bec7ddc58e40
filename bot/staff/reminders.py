"""Cart-abandonment reminders: planned and sent by a persistent scheduler, once.

Every tick (:meth:`ReminderScheduler.tick`; each server calls it, say once a minute):

1. *Plan*: each cart with items, unchanged for the staff's delay, of a customer who did
   not opt out, gets a job keyed ``cart:<id>:<UTC day it runs>``
   (:func:`bot.store.jobs.schedule`: a second plan of the same key does nothing, so at most
   one reminder per cart per day). A job planned during quiet hours runs when they end.
2. *Run*: due jobs are claimed (:func:`bot.store.jobs.claim_due`: exactly one server gets
   each) and, unless the customer opted out since, the cart changed or emptied, or it is
   quiet hours, sent to each chat the customer can be reached in and no person holds (a
   conversation taken over by an agent gets nothing from the bot): the Rasa conversation
   gets the intent :data:`REMINDER_INTENT` through Rasa's ``trigger_intent`` HTTP route
   with the cart's total as an entity; the bot's rule answers with the reminder and its
   buttons.
3. *Wait for a chat in progress*: when any of those chats had a customer or bot message in
   the last :attr:`ReminderSettings.chat_idle_minutes` (:func:`rasa_last_message`), the
   customer is talking to the shop right now and a reminder would cut in (and end a
   question the bot is asking, such as a discount code form): the job is handed back
   (:func:`bot.store.jobs.postpone`) to run once that chat has been quiet that long, when
   the checks above are made again. A job still waiting when its UTC day is over is
   skipped: that day's plan has made the next day's job (so still one reminder a day).

Opting out ("stop reminders" in any channel) is stored per customer
(:func:`bot.store.proactive.opt_out`), so it holds on every channel. The clock is a
function (:class:`ReminderScheduler`'s ``clock``) so tests move time by hand.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from bot.dialogue.turn import ConversationId
from bot.store.carts import view_cart
from bot.store.db import session_scope
from bot.store.jobs import DONE, FAILED, PENDING, SKIPPED, claim_due, finish, postpone, schedule
from bot.store.proactive import (
    cart_changed_at,
    idle_carts,
    opted_out,
    reachable_chats,
    set_setting,
    setting,
)
from bot.store.tickets import takeover_ticket

log = logging.getLogger(__name__)

KIND = "cart_reminder"
"""Job kind of a cart reminder."""
REMINDER_INTENT = "EXTERNAL_cart_reminder"
"""Intent the reminder triggers in the conversation (``domain.yml``, rule in ``data/rules.yml``,
answered by ``actions/reminders.py``); ``EXTERNAL_``: Rasa's convention for intents that come
from outside the conversation (no NLU examples)."""
SETTINGS_NAME = "cart_reminders"
"""Name of the staff setting holding :class:`ReminderSettings`."""

Send = Callable[[str, str, dict[str, Any]], None]
"""``(conversation id, intent, entities)``: deliver one triggered intent; raises on failure."""
LastMessage = Callable[[str], "datetime | None"]
"""``conversation id -> naive UTC time`` of its last customer or bot message (``None``: no
message yet); raises on failure."""


@dataclass(frozen=True)
class ReminderSettings:
    """What staff set in the staff console.

    Attributes:
        enabled: whether reminders are sent at all (off until staff switch them on).
        delay_minutes: how long a cart must stay unchanged.
        quiet_start: ``HH:MM`` UTC from which nothing is sent.
        quiet_end: ``HH:MM`` UTC until which nothing is sent (may be before ``quiet_start``:
            quiet hours over midnight).
        text: the reminder's opening sentence (the bot adds the total and the buttons).
        chat_idle_minutes: a chat with a customer or bot message this recently is in
            progress, and the reminder waits until it has been quiet this long (0: never
            wait). The default, 10 minutes, is longer than the pauses of a customer looking
            something up mid-chat, and far shorter than the cart's delay.
    """

    enabled: bool = False
    delay_minutes: int = 60
    quiet_start: str = "21:00"
    quiet_end: str = "08:00"
    text: str = ""
    chat_idle_minutes: int = 10

    @classmethod
    def parse(cls, value: dict[str, Any] | None) -> ReminderSettings:
        """Settings from their stored JSON; defaults for what is missing.

        Raises:
            ValueError: a time is not ``HH:MM``, the delay is below 1 minute or above a
                week, the chat idle time below 0 or above a day, or the text is over 300
                characters.
        """
        merged = {**asdict(cls()), **(value or {})}
        made = cls(enabled=bool(merged["enabled"]), delay_minutes=int(merged["delay_minutes"]),
                   quiet_start=str(merged["quiet_start"]), quiet_end=str(merged["quiet_end"]),
                   text=str(merged["text"]).strip(),
                   chat_idle_minutes=int(merged["chat_idle_minutes"]))
        for hhmm in (made.quiet_start, made.quiet_end):
            time.fromisoformat(hhmm)
        if not 1 <= made.delay_minutes <= 7 * 24 * 60:
            raise ValueError("delay_minutes must be between 1 and 10080")
        if not 0 <= made.chat_idle_minutes <= 24 * 60:
            raise ValueError("chat_idle_minutes must be between 0 and 1440")
        if len(made.text) > 300:
            raise ValueError("text must be at most 300 characters")
        return made

    def quiet(self, now: datetime) -> bool:
        """Whether ``now`` (naive UTC) falls in quiet hours."""
        start, end, t = (time.fromisoformat(self.quiet_start),
                         time.fromisoformat(self.quiet_end), now.time())
        if start == end:
            return False
        return start <= t < end if start < end else (t >= start or t < end)

    def quiet_over(self, now: datetime) -> datetime:
        """``now`` itself outside quiet hours, else the moment they end."""
        if not self.quiet(now):
            return now
        end = datetime.combine(now.date(), time.fromisoformat(self.quiet_end))
        return end if end > now else end + timedelta(days=1)


def load_settings(url: str | None = None) -> ReminderSettings:
    """The stored settings (defaults when never set)."""
    with session_scope(url) as session:
        return ReminderSettings.parse(setting(session, SETTINGS_NAME))


def save_settings(value: dict[str, Any], url: str | None = None) -> ReminderSettings:
    """Validate and store staff's settings.

    Raises:
        ValueError: see :meth:`ReminderSettings.parse`.
    """
    settings = ReminderSettings.parse(value)
    with session_scope(url) as session:
        set_setting(session, SETTINGS_NAME, asdict(settings))
    return settings


def _job_key(cart_id: int, day: date) -> str:
    """A cart's reminder job key for a UTC day: ``cart:<id>:<YYYY-MM-DD>``."""
    return f"cart:{cart_id}:{day.isoformat()}"


def _job_day(key: str) -> date:
    """The UTC day of a key made by :func:`_job_key`."""
    return date.fromisoformat(key.rsplit(":", 1)[-1])


@dataclass(frozen=True)
class _Outcome:
    """How one claimed reminder ended: a job status and its detail, the chats written to,
    and, for a postponed one, when it may run again."""

    status: str
    detail: str
    chats: list[str] = field(default_factory=list)
    later: datetime | None = None


class ReminderScheduler:
    """Plans and sends cart reminders; any number may run against one database."""

    def __init__(self, send: Send, clock: Callable[[], datetime] = datetime.utcnow,
                 worker: str | None = None, url: str | None = None,
                 last_message: LastMessage | None = None) -> None:
        """Args:
            send: delivers a triggered intent (:func:`rasa_trigger`).
            clock: naive UTC now.
            worker: this server's name in the job table (default host and object id).
            url: shop database URL (default ``$DATABASE_URL``).
            last_message: when each chat last had a message (:func:`rasa_last_message`);
                ``None``: no chat counts as in progress.
        """
        self.send, self.clock, self.url = send, clock, url
        self.last_message = last_message
        self.worker = worker or f"{socket.gethostname()}:{id(self):x}"

    def plan(self, settings: ReminderSettings) -> int:
        """Plan the reminders now due (see the module docstring); returns how many."""
        now = self.clock()
        planned = 0
        with session_scope(self.url) as session:
            for cart in idle_carts(session, now - timedelta(minutes=settings.delay_minutes)):
                run_at = settings.quiet_over(now)
                key = _job_key(cart.cart_id, run_at.date())
                payload = {"cart_id": cart.cart_id, "customer_id": cart.customer_id,
                           "changed_at": cart.updated_at.isoformat()}
                planned += schedule(session, KIND, key, run_at, payload)
        return planned

    def run(self, settings: ReminderSettings) -> list[str]:
        """Claim and send the due reminders; returns the conversations written to."""
        now = self.clock()
        if settings.quiet(now):
            return []
        with session_scope(self.url) as session:
            jobs = claim_due(session, now, self.worker, kind=KIND)
        sent: list[str] = []
        for job in jobs:
            if _job_day(job.key) < now.date():
                outcome = _Outcome(SKIPPED, "a later day's reminder replaces it")
            else:
                outcome = self._send_one(job.payload, now, settings)
            sent += outcome.chats
            with session_scope(self.url) as session:
                if outcome.later is not None:
                    postpone(session, job.id, outcome.later, outcome.detail)
                else:
                    finish(session, job.id, outcome.status, now, outcome.detail)
        return sent

    def _send_one(self, payload: dict[str, Any], now: datetime,
                  settings: ReminderSettings) -> _Outcome:
        """Check and send one claimed reminder."""
        customer, cart_id = int(payload["customer_id"]), int(payload["cart_id"])
        with session_scope(self.url) as session:
            if opted_out(session, customer):
                return _Outcome(SKIPPED, "opted out")
            changed = cart_changed_at(session, cart_id)
            if changed is None or changed.isoformat() != payload["changed_at"]:
                return _Outcome(SKIPPED, "cart changed or empty")
            sender, telegram = reachable_chats(session, customer)
            view = view_cart(session, customer)
            if view is None:
                return _Outcome(SKIPPED, "cart gone")
            chats = [c for c in [sender, *(str(ConversationId.telegram(t)) for t in telegram)]
                     if c and takeover_ticket(session, c) is None]
        if not chats:
            return _Outcome(SKIPPED, "no chat to reach the customer in that no person holds")
        quiet_from = self._chats_quiet_from(chats, settings)
        if quiet_from is not None and quiet_from > now:
            return _Outcome(PENDING, "waits for a chat in progress", later=quiet_from)
        reached = []
        for chat in chats:
            try:
                self.send(chat, REMINDER_INTENT, {"cart_total": f"{view.total:.2f}"})
                reached.append(chat)
            except Exception as error:  # one failing channel must not stop the others
                log.warning("cart reminder to %s failed: %s", chat, error)
        return _Outcome(DONE if reached else FAILED, f"sent to {len(reached)} of {len(chats)}",
                        reached)

    def _chats_quiet_from(self, chats: list[str], settings: ReminderSettings
                          ) -> datetime | None:
        """When the last of ``chats`` will have been quiet for ``chat_idle_minutes``
        (naive UTC; ``None`` when none had a message or nothing is checked). A chat whose
        last message cannot be read counts as quiet: the send that follows reports it."""
        if self.last_message is None or settings.chat_idle_minutes == 0:
            return None
        latest: datetime | None = None
        for chat in chats:
            try:
                at = self.last_message(chat)
            except Exception as error:
                log.warning("last message of %s unknown: %s", chat, error)
                continue
            if at is not None and (latest is None or at > latest):
                latest = at
        return None if latest is None else latest + timedelta(
            minutes=settings.chat_idle_minutes)

    def tick(self) -> list[str]:
        """Plan, then run, with the stored settings; nothing when reminders are off."""
        settings = load_settings(self.url)
        if not settings.enabled:
            return []
        self.plan(settings)
        return self.run(settings)


def _rasa_conversation(method: str, rasa_url: str, conversation: str, route: str,
                       token: str | None, timeout: float, params: dict[str, str],
                       body: dict[str, Any] | None = None) -> Any:  # noqa: ANN401 (JSON)
    """``method`` on Rasa's ``/conversations/<conversation>/<route>`` (the id quoted, the
    token as the ``token`` query parameter when set); the response's JSON.

    Raises:
        httpx.HTTPError: Rasa did not answer, or answered with an error status.
    """
    from urllib.parse import quote

    import httpx

    response = httpx.request(
        method, f"{rasa_url.rstrip('/')}/conversations/{quote(conversation, safe='')}/{route}",
        params={**params, **({"token": token} if token else {})}, json=body, timeout=timeout)
    response.raise_for_status()
    return response.json()


def rasa_trigger(rasa_url: str, token: str | None = None, timeout: float = 10.0) -> Send:
    """A :data:`Send` over Rasa's HTTP API: ``POST /conversations/<id>/trigger_intent``
    with ``output_channel=latest`` (the channel the customer last wrote from).

    Args:
        rasa_url: e.g. ``http://127.0.0.1:5005``.
        token: Rasa's ``--auth-token``, if set.
        timeout: seconds per request.
    """
    def send(conversation: str, intent: str, entities: dict[str, Any]) -> None:
        _rasa_conversation("POST", rasa_url, conversation, "trigger_intent", token, timeout,
                           {"output_channel": "latest"}, {"name": intent, "entities": entities})

    return send


def rasa_last_message(rasa_url: str, token: str | None = None,
                      timeout: float = 10.0) -> LastMessage:
    """A :data:`LastMessage` over Rasa's HTTP API: the newest ``user`` or ``bot`` event of
    the conversation's current session (``GET /conversations/<id>/tracker
    ?include_events=APPLIED``). Session starts and action bookkeeping do not count, so the
    session that this request opens in a new conversation makes no chat in progress.

    Args:
        rasa_url: e.g. ``http://127.0.0.1:5005``.
        token: Rasa's ``--auth-token``, if set.
        timeout: seconds per request.
    """
    def last(conversation: str) -> datetime | None:
        tracker = _rasa_conversation("GET", rasa_url, conversation, "tracker", token, timeout,
                                     {"include_events": "APPLIED"})
        times = [float(e["timestamp"]) for e in tracker.get("events") or []
                 if e.get("event") in ("user", "bot") and e.get("timestamp") is not None]
        return datetime.utcfromtimestamp(max(times)) if times else None

    return last
