"""Scripted conversations over the REST channel for every support flow, with their
database effects checked in the shop database the action server writes to."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.store.db import session_scope
from bot.store.models import Cart, CartItem, Ticket
from testing.stack import texts

pytestmark = pytest.mark.slow


def db(stack):
    return session_scope(stack.env["DATABASE_URL"])


def test_greeting_and_order_status_asks_for_number(stack):
    assert "Touchline" in texts(stack.say("e2e-order", "hello there"))
    assert "order number" in texts(stack.say("e2e-order", "where is my order?"))
    # an anonymous visitor: the number and the e-mail address of that order (guest look-up)
    assert "e-mail address" in texts(stack.say("e2e-order", "it's TL-10001"))
    reply = texts(stack.say("e2e-order", "alice@example.com"))
    assert "TL-10001 is on its way with DHL" in reply and "Expected delivery" in reply
    assert "welcome" in texts(stack.say("e2e-order", "thanks a lot"))


def test_order_number_in_first_message(stack):
    reply = texts(stack.say("e2e-order2", "can you track order TL-10003 for me",
                            customer="bob"))
    assert "delayed with UPS" in reply


def test_unknown_order_then_person_sets_takeover_until_closed(stack):
    stack.say("e2e-unknown", "where is my order TL-55555", customer="alice")
    reply = stack.say("e2e-unknown", "where is my order TL-55555", customer="alice")
    assert "couldn't find an order TL-55555" in texts(reply)
    assert reply[-1]["buttons"][0]["payload"] == "/affirm"
    reply = texts(stack.say("e2e-unknown", "/affirm"))
    assert "opened ticket #" in reply
    with db(stack) as s:
        ticket = s.scalars(select(Ticket).where(Ticket.sender_id == "e2e-unknown")).one()
        assert ticket.takeover and ticket.status == "open"
        assert "TL-55555" in ticket.summary
        ticket_id = ticket.id
    assert stack.say("e2e-unknown", "hello? anyone?") == []  # silent during takeover
    assert stack.say("e2e-unknown", "where is my order TL-10001") == []
    with db(stack) as s:
        s.get(Ticket, ticket_id).status = "closed"
    assert "I'm back" in texts(stack.say("e2e-unknown", "hi again"))
    assert "Touchline" in texts(stack.say("e2e-unknown", "hello"))


def test_cart_issue_repairs_stale_price(stack):
    reply = texts(stack.say("chloe", "the total in my basket is wrong", customer="chloe"))
    assert "corrected the price of Powder Canister" in reply and "Total:" in reply
    with db(stack) as s:
        cart = s.scalars(select(Cart).join(Cart.customer).where(Cart.customer_id == 3)).one()
        prices = {
            i.product_id: float(i.unit_price)
            for i in s.scalars(select(CartItem).where(CartItem.cart_id == cart.id))
        }
    assert prices[3] == pytest.approx(14.99)


def test_payment_decline_explained(stack):
    reply = texts(stack.say("dev", "why did my payment fail?", customer="dev"))
    assert "3-D Secure" in reply


def test_charged_twice_opens_ticket(stack):
    reply = texts(stack.say("frank", "I was charged twice for my order", customer="frank"))
    assert "two charges of $249.99" in reply and "ticket #" in reply
    with db(stack) as s:
        ticket = s.scalars(select(Ticket).where(Ticket.sender_id == "frank")).one()
    assert ticket.reason == "double_charge" and not ticket.takeover


def test_discount_for_a_signed_in_customer_asks_the_code_then_applies(stack):
    assert "Which discount code" in texts(
        stack.say("e2e-disc", "I want to use a discount code", customer="frank"))
    reply = texts(stack.say("e2e-disc", "SUMMER25", customer="frank"))
    assert "SUMMER25 is applied" in reply and "$67.49" in reply
    with db(stack) as s:
        assert (
            s.scalars(select(Cart.discount_code).where(Cart.customer_id == 6)).one() == "SUMMER25"
        )


def test_expired_code_says_why(stack):
    reply = texts(stack.say("bob", "apply code EXPIRED15 please", customer="bob"))
    assert "EXPIRED15 has expired" in reply


def test_two_misunderstandings_offer_a_person(stack):
    assert "another way" in texts(stack.say("e2e-fb", "/no_such_intent"))
    reply = stack.say("e2e-fb", "/no_such_intent")
    assert "connect you with a person" in texts(reply) and reply[-1]["buttons"]
    assert "No problem" in texts(stack.say("e2e-fb", "/deny"))


def test_out_of_scope_states_what_the_bot_does(stack):
    reply = texts(stack.say("e2e-oos", "what's the weather going to be like in Paris tomorrow?"))
    assert "outside what I can help with" in reply or "another way" in reply


def test_human_handoff_directly(stack):
    reply = texts(stack.say("e2e-human", "I want to speak to a real person"))
    assert "opened ticket #" in reply
    assert stack.say("e2e-human", "thanks") == []


def test_digression_during_a_form_then_never_mind(stack):
    assert "order number" in texts(stack.say("e2e-dig", "where's my parcel"))
    reply = texts(stack.say("e2e-dig", "hello"))
    assert "Touchline" in reply and "order number" in reply  # answered, then asked again
    assert "No problem" in texts(stack.say("e2e-dig", "no, forget it"))
    assert stack.tracker("e2e-dig")["active_loop"] == {}


def test_a_bare_email_or_order_number_never_opens_a_ticket(stack):
    for text in ("frank@example.com", "TL-10003"):
        stack.say("e2e-bare", text)
    with db(stack) as s:
        assert s.scalars(select(Ticket).where(Ticket.sender_id == "e2e-bare")).first() is None
