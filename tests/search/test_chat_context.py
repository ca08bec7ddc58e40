"""Chat search context rules (issue #13): who a query is for, a relevance floor with the
shop's categories, English only, and which filters a new message keeps."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.search.chat import audience_in, is_refinement, product_search_reply
from bot.search.service import SearchService
from bot.support.wording import ENGLISH_ONLY


@pytest.mark.parametrize(
    ("text", "audience"),
    [("running shoes for men", "mens"), ("men's watch", "mens"), ("a gift for my daughter",
     "womens"), ("something for her", "womens"), ("dress for a wedding", None),
     ("shoes for men and women", None), ("a manual", None)],
)
def test_audience_in(text, audience):
    assert audience_in(text) == audience


def test_audience_narrows_the_categories(service: SearchService):
    men = product_search_reply(service, "do you have running shoes for men under 100?",
                               category="shoes")
    assert men.products and {h.category for h in men.products} == {"mens-shoes"}
    unnamed = product_search_reply(service, "do you have running shoes for men?")
    assert unnamed.products and not any(h.category.startswith("womens-")
                                        for h in unnamed.products)
    gift = product_search_reply(service, "a watch for my daughter")
    assert gift.products and not any(h.category.startswith("mens-") for h in gift.products)
    laptop = product_search_reply(service, "a laptop for my son", category="laptops")
    assert {h.category for h in laptop.products} == {"laptops"}


@pytest.mark.parametrize("text", ["do you sell lawn mowers?", "I want to buy a piano",
                                  "do you have tents for camping?"])
def test_nothing_in_the_catalogue_says_so_with_what_the_shop_sells(service, text):
    reply = product_search_reply(service, text)
    assert reply.payload is None and reply.products == []
    assert reply.text.startswith("I found nothing for")
    assert "womens dresses" in reply.text and "smartphones" in reply.text


@pytest.mark.parametrize("text", ["我想买红色的鞋子", "quiero zapatos rojos para mujer",
                                  "¿tienen vestidos baratos?"])
def test_other_languages_get_english_only(service, text):
    reply = product_search_reply(service, text)
    assert reply.text == ENGLISH_ONLY and reply.payload is None


def test_refinement_or_new_query():
    assert is_refinement("under $50")
    assert is_refinement("what about under 20 dollars?")
    assert is_refinement("in red?", ["red"])
    assert not is_refinement("show me red lipstick", ["red"])
    assert not is_refinement("red lipstick under 20 dollars", ["red"])
    assert not is_refinement("cheaper")  # nothing to change


def run_search(text: str, slots: dict, entities: list[dict],
               channel: str = "rest") -> tuple[str, dict]:
    from actions.search import ActionProductSearch

    latest = {"text": text, "intent": {"name": "product_search", "confidence": 1.0},
              "entities": entities}
    events = [{"event": "user", "text": text, "parse_data": latest, "input_channel": channel}]
    tracker = Tracker("shopper", slots, latest, events, False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    out = asyncio.run(ActionProductSearch().run(dispatcher, tracker, {}))
    said = "\n".join(m.get("text") or "" for m in dispatcher.messages)
    return said, {e["name"]: e["value"] for e in out if e.get("event") == "slot"}


def test_a_new_query_without_a_price_drops_the_old_price(shop_url):
    said, slots = run_search(
        "do you have running shoes for men under 100?",
        {}, [{"entity": "max_price", "value": "100"}, {"entity": "product_category",
                                                       "value": "shoes"}])
    assert "under $100.00" in said and slots["max_price"] == "100"
    said, slots = run_search("show me red lipstick", slots,
                             [{"entity": "colour", "value": "red"}])
    assert "Red Lipstick" in said and "under $" not in said
    assert slots["max_price"] is None and slots["product_category"] is None
    said, slots = run_search("under 15 dollars", slots, [])
    assert "under $15.00" in said and "Red Lipstick" in said  # a refinement keeps the query
    assert slots["colour"] == "red"


def test_the_widget_gets_cards_without_the_same_list_as_text(shop_url):
    said, _ = run_search("show me red lipstick", {}, [], channel="socketio")
    assert said == "Here is what I found:"
    said, _ = run_search("show me red lipstick", {}, [], channel="rest")
    assert said.startswith("Here is what I found:\n1. Red Lipstick")
