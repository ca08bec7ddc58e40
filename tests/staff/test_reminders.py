"""Cart reminders on a real shop database (SQLite and PostgreSQL): two schedulers, one
reminder; opt-out, quiet hours, one per cart per day, a changed cart, a chat in progress;
time moved by hand. (Rasa's side, the last message of a real conversation, is tested in
``tests/e2e/test_reminders.py``.)"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.staff.reminders import REMINDER_INTENT, ReminderScheduler, ReminderSettings, save_settings
from bot.store.carts import view_cart
from bot.store.db import session_scope
from bot.store.jobs import DONE, PENDING, SKIPPED
from bot.store.models import Cart, Customer, ScheduledJob, TelegramAccount
from bot.store.proactive import opt_out
from bot.store.tickets import open_ticket

T0 = datetime(2026, 12, 1, 12, 0)
"""Alice's cart last changed then; every other cart is changed much later (not idle)."""


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Outbox:
    """What the schedulers delivered: ``(conversation, intent, entities)``; thread-safe."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict]] = []
        self.lock = threading.Lock()

    def __call__(self, conversation: str, intent: str, entities: dict) -> None:
        with self.lock:
            self.sent.append((conversation, intent, entities))


@pytest.fixture
def shop(any_db_url):
    """Alice (widget conversation ``alice``, Telegram chat 777) has an idle cart."""
    with session_scope(any_db_url) as s:
        alice = s.scalar(select(Customer).where(Customer.sender_id == "alice"))
        s.execute(update(Cart).values(updated_at=T0 + timedelta(days=30)))
        s.execute(update(Cart).where(Cart.customer_id == alice.id).values(updated_at=T0))
        s.add(TelegramAccount(chat_id=777, customer_id=alice.id))
        alice_id = alice.id
    save_settings({"enabled": True, "delay_minutes": 60, "quiet_start": "21:00",
                   "quiet_end": "08:00"}, any_db_url)
    return any_db_url, alice_id


def test_two_schedulers_send_exactly_one_reminder(shop):
    url, alice = shop
    clock, outbox = Clock(T0 + timedelta(hours=2)), Outbox()
    servers = [ReminderScheduler(outbox, clock, worker=f"server-{i}", url=url) for i in (1, 2)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def serve(scheduler: ReminderScheduler) -> None:
        try:
            start.wait()
            for _ in range(5):
                scheduler.tick()
        except BaseException as error:  # noqa: BLE001 (reported by the assertion below)
            errors.append(error)

    threads = [threading.Thread(target=serve, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(c for c, _, _ in outbox.sent) == ["alice", "telegram:777"]
    with session_scope(url) as s:
        total = view_cart(s, alice).total
    assert {(i, e["cart_total"]) for _, i, e in outbox.sent} == {(REMINDER_INTENT, f"{total}")}
    with session_scope(url) as s:
        jobs = s.scalars(select(ScheduledJob)).all()
        assert [(j.status, j.key) for j in jobs] == [(DONE, f"cart:{jobs[0].payload['cart_id']}"
                                                           ":2026-12-01")]
    # later the same day: nothing more; the next day (cart still unchanged): one more
    clock.now += timedelta(hours=5)
    assert servers[0].tick() == [] and servers[1].tick() == []
    clock.now += timedelta(days=1)
    assert sorted(servers[1].tick() + servers[0].tick()) == ["alice", "telegram:777"]


def test_no_reminder_after_opt_out(shop):
    url, alice = shop
    clock, outbox = Clock(T0 + timedelta(hours=2)), Outbox()
    scheduler = ReminderScheduler(outbox, clock, url=url)
    with session_scope(url) as s:
        assert opt_out(s, alice) is True
        assert opt_out(s, alice) is False  # said twice: still one record
    for _ in range(3):
        scheduler.tick()
        clock.now += timedelta(days=1)
    assert outbox.sent == []


def planned(url: str, day: int = 0) -> tuple[ReminderScheduler, ReminderSettings, Outbox]:
    """A scheduler two hours after Alice's last cart change (plus ``day`` days), her
    reminder planned."""
    outbox = Outbox()
    scheduler = ReminderScheduler(outbox, Clock(T0 + timedelta(days=day, hours=2)), url=url)
    settings = ReminderSettings.parse({"delay_minutes": 60})
    assert scheduler.plan(settings) == 1
    return scheduler, settings, outbox


def test_an_opt_out_between_planning_and_sending_is_honoured(shop):
    url, alice = shop
    scheduler, settings, outbox = planned(url)
    with session_scope(url) as s:
        opt_out(s, alice)
    assert scheduler.run(settings) == []
    with session_scope(url) as s:
        assert s.scalar(select(ScheduledJob.detail)) == "opted out"
        assert s.scalar(select(ScheduledJob.status)) == SKIPPED
    assert outbox.sent == []


def test_a_conversation_a_person_holds_gets_no_reminder(shop):
    """Alice's widget conversation is taken over by an agent: only her Telegram chat gets
    the reminder; with both held, nothing is sent."""
    url, alice = shop
    scheduler, settings, outbox = planned(url)
    with session_scope(url) as s:
        open_ticket(s, "alice", alice, "handoff", "wants a person", takeover=True)
    assert scheduler.run(settings) == ["telegram:777"]
    assert [conversation for conversation, _, _ in outbox.sent] == ["telegram:777"]


def test_no_reminder_while_every_chat_is_held_by_a_person(shop):
    url, alice = shop
    scheduler, settings, outbox = planned(url)
    with session_scope(url) as s:
        for chat in ("alice", "telegram:777"):
            open_ticket(s, chat, alice, "handoff", "wants a person", takeover=True)
    assert scheduler.run(settings) == [] and outbox.sent == []
    with session_scope(url) as s:
        assert s.scalar(select(ScheduledJob.status)) == SKIPPED


def test_a_cart_changed_after_planning_gets_no_reminder(shop):
    url, alice = shop
    scheduler, settings, outbox = planned(url)
    with session_scope(url) as s:
        s.execute(update(Cart).where(Cart.customer_id == alice).values(
            updated_at=T0 + timedelta(hours=1, minutes=59)))
    assert scheduler.run(settings) == [] and outbox.sent == []


def test_quiet_hours_hold_the_reminder_until_morning(shop):
    url, _ = shop
    clock, outbox = Clock(datetime(2026, 12, 1, 22, 30)), Outbox()
    scheduler = ReminderScheduler(outbox, clock, url=url)
    assert scheduler.tick() == []
    with session_scope(url) as s:
        assert s.scalar(select(ScheduledJob.run_at)) == datetime(2026, 12, 2, 8, 0)
    clock.now = datetime(2026, 12, 2, 7, 59)
    assert scheduler.tick() == []
    clock.now = datetime(2026, 12, 2, 8, 0)
    assert sorted(scheduler.tick()) == ["alice", "telegram:777"]


class LastMessages:
    """When each chat last had a message (naive UTC); a chat in ``broken`` cannot be read."""

    def __init__(self, times: dict[str, datetime], broken: frozenset[str] = frozenset()
                 ) -> None:
        self.times, self.broken = times, broken

    def __call__(self, conversation: str) -> datetime | None:
        if conversation in self.broken:
            raise ConnectionError("Rasa did not answer")
        return self.times.get(conversation)


def test_a_reminder_waits_while_any_chat_of_the_customer_is_in_progress(shop):
    """Alice wrote on Telegram 3 minutes ago: nothing goes to either chat until that chat
    has been quiet for ``chat_idle_minutes`` (10), then both get the reminder."""
    url, _ = shop
    now = T0 + timedelta(hours=2)
    clock, outbox = Clock(now), Outbox()
    last = LastMessages({"alice": T0, "telegram:777": now - timedelta(minutes=3)})
    scheduler = ReminderScheduler(outbox, clock, url=url, last_message=last)
    assert scheduler.tick() == [] and outbox.sent == []
    with session_scope(url) as s:
        job = s.scalars(select(ScheduledJob)).one()
        assert (job.status, job.run_at, job.claimed_by, job.detail) == (
            PENDING, now + timedelta(minutes=7), None, "waits for a chat in progress")
    clock.now += timedelta(minutes=6)
    assert scheduler.tick() == []  # not due yet
    last.times["telegram:777"] = clock.now  # she wrote again: the wait starts again
    clock.now += timedelta(minutes=1)
    assert scheduler.tick() == []
    with session_scope(url) as s:
        assert s.scalar(select(ScheduledJob.run_at)) == now + timedelta(minutes=16)
    clock.now = now + timedelta(minutes=16)
    assert sorted(scheduler.tick()) == ["alice", "telegram:777"]
    with session_scope(url) as s:
        assert [(j.status, j.detail) for j in s.scalars(select(ScheduledJob))] == [
            (DONE, "sent to 2 of 2")]


def test_a_postponed_reminder_is_checked_again(shop):
    """The cart changed while the chat went on: the postponed reminder is skipped."""
    url, alice = shop
    now = T0 + timedelta(hours=2)
    clock, outbox = Clock(now), Outbox()
    last = LastMessages({"alice": now - timedelta(minutes=1)})
    scheduler = ReminderScheduler(outbox, clock, url=url, last_message=last)
    assert scheduler.tick() == []
    with session_scope(url) as s:
        s.execute(update(Cart).where(Cart.customer_id == alice).values(
            updated_at=now + timedelta(minutes=5)))
    clock.now += timedelta(minutes=10)
    assert scheduler.run(ReminderSettings.parse({"enabled": True})) == []
    with session_scope(url) as s:
        assert s.scalar(select(ScheduledJob.detail)) == "cart changed or empty"
    assert outbox.sent == []


def test_a_reminder_postponed_past_midnight_is_sent_once(shop):
    """Alice chats until 23:54: the day's reminder waits past midnight, and the next day's
    reminder replaces it (one reminder per cart per day, not two)."""
    url, _ = shop
    save_settings({"enabled": True, "quiet_start": "00:00", "quiet_end": "00:00"}, url)
    night = datetime(2026, 12, 1, 23, 55)
    clock, outbox = Clock(night), Outbox()
    last = LastMessages({"telegram:777": night - timedelta(minutes=1)})
    scheduler = ReminderScheduler(outbox, clock, url=url, last_message=last)
    assert scheduler.tick() == []
    clock.now = night + timedelta(minutes=10)
    assert sorted(scheduler.tick()) == ["alice", "telegram:777"]
    assert len(outbox.sent) == 2
    with session_scope(url) as s:
        assert sorted((j.key[-10:], j.status, j.detail) for j in s.scalars(select(ScheduledJob))
                      ) == [("2026-12-01", SKIPPED, "a later day's reminder replaces it"),
                            ("2026-12-02", DONE, "sent to 2 of 2")]


def test_quiet_or_unreadable_chats_and_a_zero_wait_do_not_hold_a_reminder(shop):
    """A chat whose last message is older than the wait, one that cannot be read (the send
    reports on it), and ``chat_idle_minutes: 0`` (never wait) all let the reminder go."""
    url, _ = shop
    now = T0 + timedelta(hours=2)
    last = LastMessages({"alice": now - timedelta(minutes=10)}, broken=frozenset({"telegram:777"}))
    scheduler, settings, outbox = planned(url)
    scheduler.last_message = last
    assert sorted(scheduler.run(settings)) == ["alice", "telegram:777"]
    busy = LastMessages({"alice": now})
    scheduler, settings, outbox = planned(url, day=1)
    scheduler.last_message = busy
    assert scheduler.run(ReminderSettings.parse({"chat_idle_minutes": 0})) != []


def test_nothing_is_sent_until_staff_switch_reminders_on(shop):
    url, _ = shop
    save_settings({"enabled": False}, url)
    outbox = Outbox()
    assert ReminderScheduler(outbox, Clock(T0 + timedelta(hours=2)), url=url).tick() == []
    assert outbox.sent == [] and ReminderSettings().enabled is False


def test_settings_are_validated():
    assert ReminderSettings.parse(None) == ReminderSettings()
    for bad in ({"quiet_start": "25:00"}, {"delay_minutes": 0}, {"text": "x" * 301},
                {"delay_minutes": "soon"}, {"chat_idle_minutes": -1},
                {"chat_idle_minutes": 1441}):
        with pytest.raises(ValueError):
            ReminderSettings.parse(bad)
    day = ReminderSettings(quiet_start="12:00", quiet_end="13:00")
    assert day.quiet(datetime(2026, 1, 1, 12, 30)) and not day.quiet(datetime(2026, 1, 1, 13, 0))
    assert not ReminderSettings(quiet_start="00:00", quiet_end="00:00").quiet(T0)
