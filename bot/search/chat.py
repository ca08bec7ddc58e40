"""Chat answers for product-search messages ("something for a wedding under 100 dollars?").

The action ``action_product_search`` (``actions/search.py``) calls
:func:`product_search_reply`; the reply is a short text plus a ``product_cards`` JSON
payload (:class:`bot.support.messages.ProductCards`, shape in ``bot/search/README.md``) that
channels render as cards.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from spacy.lang.en.stop_words import STOP_WORDS

from bot.search.documents import categories
from bot.search.relevance import RELEVANCE_FLOOR, relevance
from bot.search.service import SearchService
from bot.search.types import MAX_QUERY_CHARS, InvalidQueryError, SearchFilters, SearchHit
from bot.search.wording import ASK_WHAT, nothing_found, product_detail, products_found
from bot.support.language import is_foreign
from bot.support.messages import CARDS_TYPE, ProductCards
from bot.support.wording import ENGLISH_ONLY

CARD_COUNT = 3
"""Products shown in one answer."""

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


REFINING_WORDS = frozenset(STOP_WORDS) | frozenset({
    "show", "something", "cheaper", "please", "ones", "options", "budget", "dollars",
    "dollar", "bucks", "usd", "max", "maximum", "instead", "ok", "okay", "price", "less",
    "only", "those", "them", "one", "what", "about", "how", "any", "colour", "color", "in",
})
"""Words that name no product: a message made only of these (plus a price, colour or
brand) refines the last search rather than starting a new one."""


def is_refinement(message: str, attributes: Sequence[str] = ()) -> bool:
    """Whether ``message`` refines the last search ("under $50", "in red?") instead of
    starting a new one.

    Args:
        message: the customer's message.
        attributes: the colour and brand entity values found in it.

    Returns:
        ``True`` when it names a price (a money phrase) or an attribute, and no other word
        than the attributes' and :data:`REFINING_WORDS`.
    """
    if not attributes and price_in_message(message) is None:
        return False
    allowed = REFINING_WORDS | {w for a in attributes for w in re.findall(r"[a-z]+", a.lower())}
    rest = _PRICE_PHRASE.sub(" ", message).lower()
    return all(w in allowed for w in re.findall(r"[a-z]+", rest))


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


AUDIENCE_WORDS = {
    "mens": frozenset({"men", "mens", "man", "male", "gents", "gentlemen", "guys", "boys"}),
    "womens": frozenset({"women", "womens", "woman", "female", "ladies", "lady", "girls"}),
}
"""Words that name who a product is for, anywhere in a query, by category prefix
(``mens-shoes``, ``womens-dresses``)."""
AUDIENCE_AFTER_FOR = {
    "mens": frozenset({"him", "husband", "boyfriend", "dad", "father", "son", "brother",
                       "grandpa", "grandfather", "boy", "guy"}),
    "womens": frozenset({"her", "wife", "girlfriend", "mum", "mom", "mother", "daughter",
                         "sister", "grandma", "grandmother", "girl"}),
}
"""Words that name who a product is for after "for" ("for my daughter", "for him")."""
_FOR_WHOM = re.compile(r"\bfor\s+(?:(?:my|a|the|our|his|her)\s+)?([a-z]+)")


def audience_in(message: str) -> str | None:
    """Who the query is for, as a category prefix: ``"mens"``, ``"womens"``, or ``None``
    (no audience named, or both). "for men", "men's shoes", "for my daughter" count."""
    text = message.lower().replace("’", "'").replace("'s", "")
    words = set(re.findall(r"[a-z]+", text))
    after_for = {m.group(1) for m in _FOR_WHOM.finditer(text)}
    found = {
        audience for audience, names in AUDIENCE_WORDS.items()
        if words & names or after_for & AUDIENCE_AFTER_FOR[audience]
    }
    return found.pop() if len(found) == 1 else None


def audience_categories(
    audience: str | None, named: Sequence[str], known: Sequence[str]
) -> tuple[str, ...]:
    """The category filter once the audience is applied.

    Args:
        audience: ``"mens"``, ``"womens"`` or ``None``.
        named: categories the query named (:func:`resolve_categories`), maybe empty.
        known: every catalogue category.

    Returns:
        ``named`` narrowed to the audience's own categories when the catalogue has them
        ("shoes for men" -> ``mens-shoes``); without named categories, every category
        except the other audience's ("a gift for my wife" keeps fragrances, drops
        ``mens-*``); ``named`` unchanged when there is no audience or the catalogue does
        not split those categories by audience ("a laptop for my son").
    """
    if audience is None:
        return tuple(named)
    others = {f"{a}-" for a in AUDIENCE_WORDS if a != audience}
    if not named:
        return tuple(c for c in known if not c.startswith(tuple(others)))
    own = tuple(c for c in named if c.startswith(f"{audience}-"))
    return own or tuple(named)


@dataclass(frozen=True)
class ChatReply:
    """What the bot says: ``text`` for text-only channels (with the product list),
    ``payload`` for card-capable ones, which show :attr:`intro` beside the cards."""

    text: str
    payload: ProductCards | None = None
    products: list[SearchHit] = field(default_factory=list)

    @property
    def intro(self) -> str:
        """The text without the product list (its first line) when there are cards, so a
        channel showing the cards does not show the products twice; else the text."""
        return self.text.splitlines()[0] if self.payload else self.text


def product_search_reply(
    service: SearchService,
    message: str,
    category: str | None = None,
    colour: str | None = None,
    brand: str | None = None,
    max_price: object = None,
    exclude: Sequence[int] = (),
    in_stock: bool = False,
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
        plain text without payload: "I only understand English for now" for another
        language, "I found nothing for ..." plus the shop's categories when no product
        passes the filters or the nearest is below the relevance floor
        (:mod:`bot.search.relevance`), "what are you looking for" for an empty query.
        Who the query is for ("for men", "for my daughter") narrows the categories
        (:func:`audience_categories`). ``exclude``: product ids not to show again (a
        follow-up of a list); ``in_stock``: only products in stock.
    """
    message = (message or "")[:MAX_QUERY_CHARS]
    if is_foreign(message):
        return ChatReply(ENGLISH_ONLY)
    price = parse_price(max_price)
    if price is None:
        price = price_in_message(message)
    with service.engine.connect() as conn:
        known = categories(conn)
    named = resolve_categories(category, known)
    cats = audience_categories(audience_in(message), named, known)
    extra = [w for w in (colour, brand, None if named else category) if w]
    wanted = strip_price(message)
    query = " ".join([wanted, *extra])[:MAX_QUERY_CHARS]
    filters = SearchFilters(categories=cats, max_price=price, in_stock=in_stock)
    try:
        found = service.search(query, k=CARD_COUNT + len(exclude), mode="hybrid",
                               filters=filters)
    except InvalidQueryError:
        return ChatReply(ASK_WHAT)
    hits = [replace(h, rank=i + 1)
            for i, h in enumerate(h for h in found if h.id not in set(exclude))][:CARD_COUNT]
    if not hits or relevance(service, query, filters) < RELEVANCE_FLOOR:
        return ChatReply(nothing_found(wanted, price, known))
    return ChatReply(products_found(hits, price), cards(hits), hits)


def cards(hits: Sequence[SearchHit]) -> ProductCards:
    """The ``product_cards`` payload of ``hits``."""
    return {
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


def product_reply(hit: SearchHit, description: str) -> ChatReply:
    """The answer naming one listed product ("the second one"): its details and card."""
    return ChatReply(product_detail(hit, description), cards([hit]), [hit])
