"""Which topic a follow-up continues (bot.dialogue.followups) and how a kick follow-up
changes only what it names (bot.kicks.chat)."""

from __future__ import annotations

import pytest

from bot.dialogue.followups import THAT_ONE, follow_up, product_ref
from bot.kicks.chat import is_kick_follow_up, kick_change, merged_spot


@pytest.mark.parametrize(("topic", "text", "intent", "kind"), [
    ("payment", "what payment methods do you take?", "payment_issue", "methods"),
    ("payment", "can I pay with klarna?", "out_of_scope", "method"),
    ("payment", "can I retry?", "nlu_fallback", "retry"),
    ("payment", "will I be charged twice?", "payment_issue", "charge_question"),
    ("order", "why is it late?", "out_of_scope", "why_late"),
    ("order", "can I change the address?", "order_status", "change_address"),
    ("order", "cancel it", "nlu_fallback", "cancel"),
    ("order", "no, I meant TL-10004", "deny", "lookup"),
    ("order", "not that one", "out_of_scope", "other_order"),
    ("cart", "it says 24.99 for the face wash but the site says less", "discount_code",
     "line_price"),
    ("cart", "remove the lipstick", "cart_issue", "remove"),
    ("cart", "make it 2", "out_of_scope", "quantity"),
    ("discount", "why not?", "out_of_scope", "why_not"),
    ("discount", "which codes can I use?", "discount_code", "which_codes"),
    ("search", "cheaper", "product_search", "cheaper"),
    ("search", "in another colour?", "out_of_scope", "other_colour"),
    ("search", "only the ones in stock", "product_search", "in_stock"),
    ("search", "more like this", "product_search", "more_like"),
    ("search", "the second one", "out_of_scope", "pick"),
    ("search", "not that one", "deny", "not_that"),
    ("kicks", "and from in front of the posts?", "out_of_scope", "kick"),
    ("kicks", "what about from 40 metres", "nlu_fallback", "kick"),
    ("kicks", "from the other side", "out_of_scope", "kick"),
    ("kicks", "for another kicker", "nlu_fallback", "kick"),
])
def test_follow_ups_of_each_topic(topic, text, intent, kind):
    found = follow_up(topic, text, intent)
    assert found is not None and (found.topic, found.kind) == (topic, kind)


@pytest.mark.parametrize(("topic", "text", "intent"), [
    (None, "why is it late?", "out_of_scope"),
    ("order", "show me red lipstick", "product_search"),
    ("search", "a cheaper laptop", "product_search"),
    ("payment", "where is my order TL-10003", "order_status"),
    ("kicks", "what's the weather like", "out_of_scope"),
    ("cart", "show me lipstick that costs less than 15", "product_search"),
])
def test_new_requests_are_no_follow_ups(topic, text, intent):
    assert follow_up(topic, text, intent) is None


def test_product_references():
    assert product_ref("the second one") == 1
    assert product_ref("the last one please") == -1
    assert product_ref("is that one in stock?") == THAT_ONE
    assert product_ref("cheaper") is None


def test_kick_words():
    first = kick_change("what are the chances of a kick from 35 metres out near the touchline?")
    assert (first.distance_m, first.touchline_m, first.in_front) == ("35", "5", False)
    assert kick_change("on the 22").distance_m == "22"
    assert kick_change("15 in from the right touchline").touchline_m == "15"
    assert kick_change("and from in front of the posts?").in_front
    assert kick_change("from the other side").other_side
    assert kick_change("for another kicker").any_kicker
    assert kick_change("what's the weather like").empty


def test_a_follow_up_changes_only_what_it_names():
    last = {"kicker": "Rhys Talbot", "distance_m": "35", "touchline_m": "5", "pitch_spot": []}
    in_front = kick_change("and from in front of the posts?")
    assert is_kick_follow_up("and from in front of the posts?", in_front)
    assert merged_spot(last, in_front) == {
        "kicker": "Rhys Talbot", "distance_m": "35", "touchline_m": None,
        "pitch_spot": ["in_front"]}
    farther = merged_spot(last, kick_change("what about from 40 metres"))
    assert farther == {**last, "distance_m": "40"}
    assert merged_spot(last, kick_change("for another kicker"))["kicker"] is None
    assert merged_spot(last, kick_change("on the 22"))["distance_m"] == "22"
