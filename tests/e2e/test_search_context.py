"""Product search context rules over REST against the real stack (issue #13)."""

from __future__ import annotations

import pytest

from testing.stack import texts

pytestmark = pytest.mark.slow


def cards(reply: list[dict]) -> list[dict]:
    return [p for m in reply if "custom" in m for p in m["custom"]["products"]]


def test_audience_then_a_new_query_drops_the_old_price(stack):
    reply = stack.say("e2e-ctx", "do you have running shoes for men under 100?")
    products = cards(reply)
    assert products and all(p["category"] == "mens-shoes" and p["price"] <= 100
                            for p in products), reply
    text = texts(stack.say("e2e-ctx", "show me red lipstick"))
    assert "Red Lipstick" in text and "under $" not in text


def test_nothing_in_the_catalogue(stack):
    reply = stack.say("e2e-ctx2", "do you sell lawn mowers?")
    text = texts(reply)
    assert "I found nothing for" in text and "womens dresses" in text and not cards(reply)


@pytest.mark.parametrize("text", ["我想买红色的鞋子", "quiero zapatos rojos para mujer"])
def test_other_languages(stack, text):
    reply = stack.say("e2e-ctx3", text)
    assert "only understand English" in texts(reply) and not cards(reply)
