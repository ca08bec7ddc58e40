"""The kick-odds and product-search chat flows end to end over REST."""

from __future__ import annotations

import re

import pytest

from testing.stack import texts

pytestmark = pytest.mark.slow
PERCENT = re.compile(r"\d{1,3}(\.\d)?%")


def test_kick_odds_for_a_named_kicker(stack):
    reply = stack.say(
        "e2e-kick",
        "what are the odds for Rhys Talbot from 40 metres, 15 in from the right touchline?",
    )
    text = texts(reply)
    assert "Rhys Talbot" in text and len(PERCENT.findall(text)) >= 2 and "simulated" in text
    assert stack.tracker("e2e-kick")["slots"]["distance_m"] is None  # next question starts fresh


def test_kick_odds_from_the_22_in_front_of_the_posts(stack):
    text = texts(stack.say("e2e-kick2", "chance of a kick from the 22 in front of the posts?"))
    assert PERCENT.search(text) and "simulated" in text


def test_kick_question_without_position_asks_for_one(stack):
    text = texts(stack.say("e2e-kick3", "how good is Seb Varga at kicking goals?"))
    assert "?" in text and not PERCENT.search(text)


def test_product_search_answers_with_cards(stack):
    reply = stack.say("e2e-shop", "do you have something for a wedding under 100 dollars?")
    cards = [m["custom"] for m in reply if "custom" in m]
    assert cards, reply
    products = cards[0]["products"]
    assert 1 <= len(products) <= 3 and all(p["price"] <= 100 for p in products)
    assert all(p["title"] in texts(reply) for p in products)


def test_product_search_with_no_match_says_so(stack):
    text = texts(stack.say("e2e-shop2", "do you sell red laptops under 5 dollars?"))
    assert "found nothing for" in text.lower()
