"""Forms that validate, repair after misunderstandings, and "start over", over REST
against the real stack (issue #13)."""

from __future__ import annotations

import re

import pytest

from testing.stack import texts

pytestmark = pytest.mark.slow

INTERNAL = re.compile(
    r"/[a-z_]|nlu_fallback|utter_|action_|requested_slot|pending_request|discount_code|"
    r"order_email|order_id|customer_id|misunderstandings"
)
OPENERS = {
    "discount_form": ("e2e-leak-code", "I want to use a discount code", "Which discount code",
                      "bob"),
    "order_status_form": ("e2e-leak-order", "where is my order?", "order number", None),
    "order_status_form (e-mail)": ("e2e-leak-mail", "where is my order TL-10003",
                                   "e-mail address", None),
}
"""Form -> (conversation, opening message, the form's question, signed-in customer)."""
NOT_VALUES = ["/nlu_fallback", "/restart", "/action_handoff", "/discount_code{\"x\": 1}",
              "plok", "zzqx vlorp", "/utter_greet"]


def leaks(reply: list[dict]) -> list[str]:
    """Internal names in any text or button title of a reply."""
    shown = [m.get("text") or "" for m in reply]
    shown += [b.get("title", "") for m in reply for b in m.get("buttons") or []]
    return [s for s in shown if INTERNAL.search(s)]


@pytest.mark.parametrize("form", sorted(OPENERS))
def test_no_internal_name_reaches_a_customer_in_any_form(stack, form):
    sender, opener, question, customer = OPENERS[form]
    for n, text in enumerate(NOT_VALUES):
        conv = f"{sender}-{n}"  # its own conversations: files share the session's stack
        stack.say(conv, "start over", customer=customer)
        assert question in texts(stack.say(conv, opener, customer=customer))
        reply = stack.say(conv, text, customer=customer)
        assert reply and not leaks(reply), (text, reply)
        assert "couldn't find the code" not in texts(reply)


def test_discount_form_asks_again_then_takes_the_code(stack):
    assert "Which discount code" in texts(stack.say("emma", "I have a discount code",
                                                    customer="emma"))
    reply = texts(stack.say("emma", "plok", customer="emma"))
    assert "PLOK" not in reply and "couldn't see a discount code" in reply
    assert "Which discount code" in reply
    reply = texts(stack.say("emma", "oh sorry, my code is nope7 I think", customer="emma"))
    assert "couldn't find the code NOPE7" in reply and "THINK" not in reply


def test_two_misunderstandings_in_a_form_offer_a_person(stack):
    stack.say("e2e-rep-form", "where is my order?")
    assert "doesn't look like an order number" in texts(stack.say("e2e-rep-form", "plok"))
    # a second answer the form cannot use, forced as such: which intent gibberish gets is
    # the NLU's business (tests/nlu), not the repair rule's
    reply = stack.say("e2e-rep-form", "/nlu_fallback")
    assert "connect you with a person" in texts(reply) and reply[-1]["buttons"]
    assert stack.tracker("e2e-rep-form")["active_loop"] in ({}, {"name": None})
    assert "opened ticket #" in texts(stack.say("e2e-rep-form", "/affirm"))


def test_out_of_scope_then_not_understood_offers_a_person(stack):
    first = texts(stack.say("e2e-rep-oos", "what's the weather going to be like in Paris?"))
    assert "connect you with a person" not in first
    reply = stack.say("e2e-rep-oos", "/nlu_fallback")
    assert "connect you with a person" in texts(reply) and reply[-1]["buttons"]


def test_stop_leaves_a_form(stack):
    assert "order number" in texts(stack.say("e2e-rep-stop", "where is my order?"))
    reply = texts(stack.say("e2e-rep-stop", "stop"))
    assert "No problem" in reply and "order number" not in reply
    assert stack.tracker("e2e-rep-stop")["active_loop"] in ({}, {"name": None})


def test_person_requested_inside_the_discount_form(stack):
    assert "Which discount code" in texts(stack.say("e2e-rep-human", "I have a voucher",
                                                    customer="alice"))
    assert "opened ticket #" in texts(stack.say("e2e-rep-human", "I want to talk to a human",
                                                customer="alice"))


def test_start_over_resets_the_conversation_politely(stack):
    assert "Which discount code" in texts(stack.say(
        "e2e-restart", "I want to use a discount code", customer="frank"))
    reply = texts(stack.say("e2e-restart", "start over", customer="frank"))
    assert "start over" in reply and "forgotten" in reply
    tracker = stack.tracker("e2e-restart")
    assert tracker["active_loop"] in ({}, {"name": None})
    assert tracker["slots"]["customer_id"] is None
    # the channel's sign-in is not a slot: it outlives the restart
    assert "Which discount code" in texts(stack.say(
        "e2e-restart", "I want to use a discount code", customer="frank"))
