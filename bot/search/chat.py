"""Chat answers for product-search messages ("something for a wedding under 100 dollars?").

The action ``action_product_search`` (``actions/search.py``) calls
:func:`product_search_reply`; the reply is a short text plus a ``product_cards`` JSON
payload (shape in ``bot/search/README.md``) that channels render as cards.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.search.documents import categories
from bot.search.service import SearchService
from bot.search.types import MAX_QUERY_CHARS, InvalidQueryError, SearchFilters, SearchHit

CARD_COUNT = 3
"""Products shown in one answer."""
CARDS_TYPE = "product_cards"

_NUMBER = r"\d+(?:[.,]\d{3})*(?:\.\d+)?"
_PRICE_PHRASE = re.compile(
    r"(?:\b(?:under|below|less than|cheaper than|at most|up to|max(?:imum)?|no more than)\s*)?"
    rf"(?:\$|usd\s*)?\s*(?<![\w.]){_NUMBER}\s*(?:\$|dollars?\b|usd\b|bucks\b)?",
    re.IGNORECASE,
)
_PRICE_CONTEXT = re.compile(
    r"\$|dollars?\b|usd\b|bucks\b|\b(?:under|below|less than|cheaper than|budget|up to)\b",
    re.IGNORECASE,
)


def parse_price(value: object) -> float | None:
    """Read a maximum price in US dollars from a slot or entity value.

    Args:
        value: a number, or text such as ``"100"``, ``"$100"``, ``"100 dollars"``,
            ``"under 1,000 USD"``, ``"99.99"``.

    Returns:
        The first amount as a non-negative finite float, or ``None`` when there is none.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        amount = float(value)
    else:
        match = re.search(_NUMBER, str(value))
        if match is None:
            return None
        amount = float(match.group().replace(",", ""))
    return amount if math.isfinite(amount) and amount >= 0 else None


def price_in_message(message: str) -> float | None:
    """A maximum price stated in the message itself, only when it looks like money
    ("$100", "100 dollars", "under 100"), so "iPhone 13" sets no limit."""
    for match in _PRICE_PHRASE.finditer(message):
        if _PRICE_CONTEXT.search(match.group()):
            return parse_price(match.group())
    return None


def strip_price(message: str) -> str:
    """The message without money phrases, so the price goes to the filter, not the
    embedding; the original when nothing else would remain."""
    stripped = _PRICE_PHRASE.sub(
        lambda m: " " if _PRICE_CONTEXT.search(m.group()) else m.group(), message
    )
    stripped = re.sub(r"\s+", " ", stripped).strip(" ?!.,")
    return stripped if re.search(r"\w", stripped) else message


def _stem(word: str) -> str:
    """Crude English singular: dresses -> dress, watches -> watch, shoes -> shoe, dress -> dress."""
    if word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _stems(text: str) -> set[str]:
    return {_stem(w) for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 1}


def resolve_categories(value: str | None, known: Sequence[str]) -> tuple[str, ...]:
    """Catalogue categories meant by a ``product_category`` entity.

    Args:
        value: entity text, e.g. ``"shoes"``, ``"womens dresses"``, ``"laptops"``.
        known: the catalogue's category slugs.

    Returns:
        Every slug whose words include all the entity's words (singular-insensitive):
        ``"shoes"`` -> ``("mens-shoes", "womens-shoes")``; empty when none match.
    """
    wanted = _stems(value or "")
    if not wanted:
        return ()
    return tuple(c for c in known if wanted <= _stems(c.replace("-", " ")))


@dataclass(frozen=True)
class ChatReply:
    """What the bot says: ``text`` for every channel, ``payload`` for card-capable ones."""

    text: str
    payload: dict[str, object] | None = None
    products: list[SearchHit] = field(default_factory=list)


def _stock_words(stock: int) -> str:
    return f"in stock ({stock} left)" if stock > 0 else "out of stock"


def product_search_reply(
    service: SearchService,
    message: str,
    category: str | None = None,
    colour: str | None = None,
    brand: str | None = None,
    max_price: object = None,
) -> ChatReply:
    """Run hybrid search for a chat message and phrase the answer.

    Args:
        service: the search service.
        message: the user's latest message text (truncated to ``MAX_QUERY_CHARS``).
        category: ``product_category`` entity/slot; a filter when it names catalogue
            categories, otherwise words added to the query.
        colour, brand: ``colour`` / ``brand`` entities/slots, added to the query text.
        max_price: ``max_price`` entity/slot (text like ``"$100"``); when absent, a
            money phrase in the message is used.

    Returns:
        The top :data:`CARD_COUNT` products as text and a ``product_cards`` payload, or a
        plain "nothing found" / "what are you looking for" text without payload.
    """
    message = (message or "")[:MAX_QUERY_CHARS]
    price = parse_price(max_price)
    if price is None:
        price = price_in_message(message)
    with service.engine.connect() as conn:
        cats = resolve_categories(category, categories(conn))
    extra = [w for w in (colour, brand, None if cats else category) if w]
    query = " ".join([strip_price(message), *extra])[:MAX_QUERY_CHARS]
    filters = SearchFilters(categories=cats, max_price=price)
    try:
        hits = service.search(query, k=CARD_COUNT, mode="hybrid", filters=filters)
    except InvalidQueryError:
        return ChatReply("Tell me what you are looking for, for example 'a red dress under $50'.")
    limit = f" under ${price:,.2f}" if price is not None else ""
    if not hits:
        return ChatReply(
            f"Sorry, I couldn't find any products{limit} matching that. "
            "Try other words or a higher budget."
        )
    lines = [f"Here is what I found{limit}:"]
    lines += [f"{h.rank}. {h.title} - ${h.price:,.2f}, {_stock_words(h.stock)}" for h in hits]
    payload = {
        "type": CARDS_TYPE,
        "products": [
            {
                "id": h.id,
                "title": h.title,
                "price": h.price,
                "currency": "USD",
                "stock": h.stock,
                "in_stock": h.stock > 0,
                "category": h.category,
                "brand": h.brand,
            }
            for h in hits
        ],
    }
    return ChatReply("\n".join(lines), payload, hits)
