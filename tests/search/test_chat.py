"""Chat answers for product search: price parsing, category resolution, the reply, and
``action_product_search`` end to end over the action server's REST webhook."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from bot.config import PROJECT_ROOT
from bot.search.chat import (
    CARDS_TYPE,
    parse_price,
    price_in_message,
    product_search_reply,
    resolve_categories,
    strip_price,
)
from bot.search.service import SearchService
from bot.search.wording import SPOKEN_OPENINGS
from bot.speech.tts import speech_pieces

CATEGORIES = [
    "mens-shoes",
    "mens-watches",
    "tops",
    "womens-dresses",
    "womens-shoes",
    "womens-watches",
    "laptops",
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("100", 100.0),
        ("$100", 100.0),
        ("100 dollars", 100.0),
        ("under 1,000 USD", 1000.0),
        ("99.99", 99.99),
        (50, 50.0),
        ("cheap", None),
        (None, None),
        ("nan", None),
        (-5, None),
        (float("inf"), None),
        (True, None),
    ],
)
def test_parse_price(value: object, expected: float | None):
    assert parse_price(value) == expected


def test_price_only_from_money_phrases():
    assert price_in_message("something for a wedding under 100 dollars?") == 100.0
    assert price_in_message("a phone below $250") == 250.0
    assert price_in_message("do you sell the iPhone 13") is None
    assert strip_price("something for a wedding under 100 dollars?") == "something for a wedding"
    assert strip_price("iPhone 13 under $900") == "iPhone 13"
    assert strip_price("under $50") == "under $50"


def test_resolve_categories():
    assert resolve_categories("shoes", CATEGORIES) == ("mens-shoes", "womens-shoes")
    assert resolve_categories("women's watch", CATEGORIES) == ("womens-watches",)
    assert resolve_categories("Laptops", CATEGORIES) == ("laptops",)
    assert resolve_categories("dress", CATEGORIES) == ("womens-dresses",)
    assert resolve_categories("gizmo", CATEGORIES) == ()
    assert resolve_categories(None, CATEGORIES) == ()


def test_wedding_under_100_dollars(service: SearchService):
    reply = product_search_reply(service, "do you have something for a wedding under 100 dollars?")
    assert reply.payload is not None and reply.payload["type"] == CARDS_TYPE
    cards = reply.payload["products"]
    assert len(cards) == 3
    assert all(c["price"] <= 100 for c in cards)
    assert reply.intro == "Here is what I found under $100.00:"  # for channels with cards
    assert set(cards[0]) == {
        "id",
        "title",
        "price",
        "currency",
        "stock",
        "in_stock",
        "category",
        "brand",
    }
    for card in cards:
        assert card["title"] in reply.text and f"${card['price']:,.2f}" in reply.text
    assert "under $100.00" in reply.text


def test_entities_become_filters(service: SearchService):
    reply = product_search_reply(
        service, "I need something for running", category="shoes", colour="black", max_price="$150"
    )
    assert reply.products
    assert all(
        h.category in {"mens-shoes", "womens-shoes"} and h.price <= 150 for h in reply.products
    )


def test_no_results_says_so_without_cards(service: SearchService):
    reply = product_search_reply(service, "a laptop", category="laptops", max_price="1 dollar")
    assert reply.payload is None and reply.products == []
    assert "I found nothing for \"a laptop\" under $1.00" in reply.text and "laptops" in reply.text


def test_unsearchable_message_asks_what_they_want(service: SearchService):
    reply = product_search_reply(service, "🙏🔥")
    assert reply.payload is None and "looking for" in reply.text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_action_over_rest_webhook(shop_url: str, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": shop_url,
        "PYTHONPATH": str(PROJECT_ROOT),
        "TOUCHLINE_ACTION_TIMEOUT_S": "120",
    }
    log = open(tmp_path / "actions.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--actions", "actions.search", "--port", str(port)],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, (tmp_path / "actions.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "action server did not start"
            time.sleep(0.5)
        text = "do you have a dress for a wedding under 60 dollars?"
        call = {
            "next_action": "action_product_search",
            "sender_id": "shopper",
            "domain": {},
            "tracker": {
                "sender_id": "shopper",
                "slots": {"brand": None},
                "latest_message": {
                    "text": text,
                    "intent": {"name": "product_search", "confidence": 1.0},
                    "entities": [
                        {"entity": "product_category", "value": "dress", "start": 15, "end": 20}
                    ],
                },
                "events": [],
                "paused": False,
                "followup_action": None,
                "active_loop": {},
                "latest_action_name": "action_listen",
            },
        }
        response = httpx.post(f"{url}/webhook", json=call, timeout=150)
        assert response.status_code == 200, response.text
        (message,) = response.json()["responses"]
        cards = message["custom"]["products"]
        assert message["custom"]["type"] == CARDS_TYPE and 1 <= len(cards) <= 3
        assert all(c["category"] == "womens-dresses" and c["price"] <= 60 for c in cards)
        assert cards[0]["title"] in message["text"]
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def test_the_spoken_openings_open_real_answers(service: SearchService):
    """The phone channel synthesises the openings of ``SPOKEN_OPENINGS`` at start: each
    real answer (found, found under a price, nothing found) must open with one of them as
    the synthesiser cuts it."""
    found = product_search_reply(service, "red lipstick")
    assert found.text.splitlines()[0] == found.intro == SPOKEN_OPENINGS[0]
    under = product_search_reply(service, "red lipstick under $30")
    nothing = product_search_reply(service, "a snowboard")
    assert "under $30.00" in under.text and nothing.text.startswith("I found nothing")
    openings = [speech_pieces(text)[0] for text in SPOKEN_OPENINGS]
    assert [speech_pieces(r.text)[0] for r in (found, under, nothing)] == openings
    assert openings == ["Here is what I found:", "Here is what I found", "I found nothing"]
