"""Cart reminders end to end: two scheduler processes (``python -m
bot.staff.reminder_loop``, as ``make run`` starts it) against one database send one
reminder; the scheduler delivers the reminder through Rasa's ``trigger_intent`` into a real
model's conversation (the cart's real total and its two buttons), "stop reminders" records
the opt-out, and the next day's tick sends nothing; a reminder waits while the customer is
chatting (the last message read from the real conversation)."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from decimal import Decimal

import yaml
from sqlalchemy import select, update

from bot.config import PROJECT_ROOT
from bot.staff.reminders import (
    REMINDER_INTENT,
    ReminderScheduler,
    rasa_last_message,
    rasa_trigger,
    save_settings,
)
from bot.store.carts import view_cart
from bot.store.db import session_scope
from bot.store.jobs import DONE, PENDING
from bot.store.models import Cart, CartItem, Customer, Product, ScheduledJob
from bot.store.proactive import opted_out
from bot.support.wording import money
from testing.stack import texts

T0 = datetime(2026, 12, 1, 12, 0)
RESPONSES = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())["responses"]


def response(name: str) -> str:
    return RESPONSES[name][0]["text"]


def bot_messages(stack, sender: str) -> list[dict]:
    return [e for e in stack.tracker(sender)["events"] if e["event"] == "bot"]


def test_two_scheduler_processes_send_exactly_one_reminder(stack):
    url = stack.env["DATABASE_URL"]
    now = datetime.utcnow()
    with session_scope(url) as s:
        bob = s.scalar(select(Customer).where(Customer.sender_id == "bob"))
        s.execute(update(Cart).values(updated_at=now + timedelta(days=30)))
        s.execute(update(Cart).where(Cart.customer_id == bob.id).values(
            updated_at=now - timedelta(hours=2)))
        total = view_cart(s, bob.id).total
        cart_id = s.scalar(select(Cart.id).where(Cart.customer_id == bob.id))
    # no quiet hours: the real clock decides; no wait for the chat that says hello below
    # (the wait is tested in test_a_reminder_waits_while_the_customer_is_chatting)
    save_settings({"enabled": True, "delay_minutes": 60, "quiet_start": "00:00",
                   "quiet_end": "00:00", "chat_idle_minutes": 0}, url)
    stack.say("bob", "hello", customer="bob")
    env = {**stack.env, "TOUCHLINE_RASA_URL": stack.url, "RASA_AUTH_TOKEN": stack.token}
    loops = [subprocess.Popen([sys.executable, "-m", "bot.staff.reminder_loop", "--ticks",
                               "4", "--every", "0.3"], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outputs = [loop.communicate(timeout=300)[0] for loop in loops]
    assert [loop.returncode for loop in loops] == [0, 0], outputs
    sent = sorted(out.strip().splitlines()[-1] for out in outputs)
    assert sent == ["sent 0", "sent 1"], outputs
    reminders = [m for m in bot_messages(stack, "bob") if m["text"].endswith(
        f"Your cart comes to {money(total)}. Would you like to check out, or is something "
        "holding you up?")]
    assert len(reminders) == 1
    with session_scope(url) as s:
        jobs = s.scalars(select(ScheduledJob).where(
            ScheduledJob.key.startswith(f"cart:{cart_id}:"))).all()
        assert [(j.key, j.status) for j in jobs] == [
            (f"cart:{cart_id}:{now.date().isoformat()}", DONE)]


def test_a_reminder_states_the_total_and_stop_reminders_stops_the_next(stack):
    url = stack.env["DATABASE_URL"]
    with session_scope(url) as s:
        alice = s.scalar(select(Customer).where(Customer.sender_id == "alice"))
        s.execute(update(Cart).values(updated_at=T0 + timedelta(days=30)))
        s.execute(update(Cart).where(Cart.customer_id == alice.id).values(updated_at=T0))
        alice_id = alice.id
        total = view_cart(s, alice_id).total
    assert total > 0
    save_settings({"enabled": True, "delay_minutes": 60, "quiet_start": "21:00",
                   "quiet_end": "08:00", "text": "Your rugby kit is still waiting."}, url)
    stack.say("alice", "hello", customer="alice")
    clock = [T0 + timedelta(hours=2)]
    scheduler = ReminderScheduler(rasa_trigger(stack.url, stack.token), lambda: clock[0],
                                  url=url)

    assert scheduler.tick() == ["alice"]
    reminder = bot_messages(stack, "alice")[-1]
    assert reminder["text"] == (f"Your rugby kit is still waiting. Your cart comes to "
                                f"{money(total)}. Would you like to check out, or is "
                                "something holding you up?")
    assert [b["payload"] for b in reminder["data"]["buttons"]] == ["/cart_issue",
                                                                   "/human_handoff"]
    assert scheduler.tick() == []  # one per cart per day

    reply = stack.say("alice", "please stop the reminders", customer="alice")
    assert [m["text"] for m in reply] == [response("utter_reminders_stopped")]
    with session_scope(url) as s:
        assert opted_out(s, alice_id)
    again = stack.say("alice", "stop reminders", customer="alice")
    assert [m["text"] for m in again] == [response("utter_reminders_already_stopped")]

    clock[0] += timedelta(days=1)  # a new day: the cart is still idle, but she opted out
    before = len(bot_messages(stack, "alice"))
    assert scheduler.tick() == []
    assert len(bot_messages(stack, "alice")) == before


def test_a_reminder_waits_while_the_customer_is_chatting(stack):
    """Dev's cart has been idle for two hours, but he is chatting now: the reminder waits
    until his conversation has been quiet for ``chat_idle_minutes`` (the scheduler's clock
    moved by hand from the real time of his last message)."""
    url = stack.env["DATABASE_URL"]
    now = datetime.utcnow()
    with session_scope(url) as s:
        dev = s.scalar(select(Customer).where(Customer.sender_id == "dev"))
        s.execute(update(Cart).values(updated_at=now + timedelta(days=30)))
        cart = Cart(customer_id=dev.id, updated_at=now - timedelta(hours=2))
        cart.items.append(CartItem(product_id=1, quantity=1,
                                   unit_price=s.get(Product, 1).price))
        s.add(cart)
        s.flush()
        cart_id, total = cart.id, view_cart(s, dev.id).total
    save_settings({"enabled": True, "delay_minutes": 60, "quiet_start": "00:00",
                   "quiet_end": "00:00", "chat_idle_minutes": 10}, url)
    last = rasa_last_message(stack.url, stack.token)
    # a conversation without a message has none (reading it opens a session, no message)
    assert last("e2e-reminder-never-spoke") is None
    stack.say("dev", "hello")
    said = last("dev")
    assert said is not None and abs(said - datetime.utcnow()) < timedelta(minutes=1)
    clock = [datetime.utcnow()]
    scheduler = ReminderScheduler(rasa_trigger(stack.url, stack.token), lambda: clock[0],
                                  url=url, last_message=last)

    assert scheduler.tick() == []
    with session_scope(url) as s:
        job = s.scalars(select(ScheduledJob).where(
            ScheduledJob.key.startswith(f"cart:{cart_id}:"))).one()
        assert (job.status, job.run_at) == (PENDING, said + timedelta(minutes=10))
    before = len(bot_messages(stack, "dev"))
    clock[0] = said + timedelta(minutes=9)
    assert scheduler.tick() == [] and len(bot_messages(stack, "dev")) == before
    clock[0] = said + timedelta(minutes=10)
    assert scheduler.tick() == ["dev"]
    assert bot_messages(stack, "dev")[-1]["text"].endswith(
        f"Your cart comes to {money(total)}. Would you like to check out, or is something "
        "holding you up?")
    with session_scope(url) as s:
        assert s.scalar(select(ScheduledJob.status).where(ScheduledJob.id == job.id)) == DONE


def test_a_reminder_is_never_read_as_the_answer_to_an_open_question(stack):
    send = rasa_trigger(stack.url, stack.token)
    conversation = "e2e-reminder-in-form"
    assert "Which discount code" in texts(
        stack.say(conversation, "I want to use a discount code", customer="bob"))
    send(conversation, REMINDER_INTENT, {"cart_total": "42.50"})
    tracker = stack.tracker(conversation)
    assert bot_messages(stack, conversation)[-1]["text"].endswith(
        f"Your cart comes to {money(Decimal('42.50'))}. Would you like to check out, or is "
        "something holding you up?")
    assert tracker["slots"]["discount_code"] is None
    assert not tracker["active_loop"]  # the question left open is over
    assert [m["text"] for m in stack.say(conversation, "hello", customer="bob")] == [
        response("utter_greet")]


def test_stop_reminders_is_never_read_as_an_order_number(stack):
    conversation = "e2e-stop-in-form"
    assert "order number" in texts(stack.say(conversation, "where is my order?"))
    reply = stack.say(conversation, "don't send me reminders")
    assert response("utter_reminders_sign_in") in [m.get("text") for m in reply]
    tracker = stack.tracker(conversation)
    assert tracker["slots"]["order_id"] is None
    assert tracker["active_loop"]["name"] == "order_status_form"  # still asked


def test_an_anonymous_visitor_is_told_stop_reminders_needs_a_sign_in(stack):
    reply = stack.say("reminder-guest", "don't send me reminders")
    assert [m["text"] for m in reply] == [response("utter_reminders_sign_in")]
