"""What the product-search chat says (``action_product_search`` through
:mod:`bot.search.chat`): the products found, or why none.  Where a customer's text lives:
``docs/architecture.md`` ("Customer wording")."""

from __future__ import annotations

from collections.abc import Sequence

from bot.search.types import SearchHit

ASK_WHAT = "Tell me what you are looking for, for example 'a red dress under $50'."
"""Answer to a message with nothing to search for."""
NOTHING_ECHO_CHARS = 80
"""Longest part of the customer's query repeated in "I found nothing for ..."."""


def shop_categories(known: Sequence[str]) -> str:
    """The catalogue's categories in words ("beauty, fragrances, ... and womens shoes")."""
    names = sorted(c.replace("-", " ") for c in known)
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)


def _limit(price: float | None) -> str:
    return f" under ${price:,.2f}" if price is not None else ""


def _stock_words(stock: int) -> str:
    return f"in stock ({stock} left)" if stock > 0 else "out of stock"


def nothing_found(wanted: str, price: float | None, known: Sequence[str]) -> str:
    """Answer when no product fits: the query (at most :data:`NOTHING_ECHO_CHARS`
    characters), the price limit (US dollars, ``None``: none) and what the shop sells."""
    shown = " ".join(wanted.split())[:NOTHING_ECHO_CHARS]
    return (f"I found nothing for \"{shown}\"{_limit(price)}. The shop sells "
            f"{shop_categories(known)}.")


def products_found(hits: Sequence[SearchHit], price: float | None) -> str:
    """The products found, one line each after "Here is what I found[ under $x]:" (the
    first line, which a channel showing cards shows alone)."""
    lines = [f"Here is what I found{_limit(price)}:"]
    lines += [f"{h.rank}. {h.title} - ${h.price:,.2f}, {_stock_words(h.stock)}" for h in hits]
    return "\n".join(lines)


SPOKEN_OPENINGS = (products_found([], None), products_found([], 1.0),
                   nothing_found("anything", None, ["anything"]))
"""Answers whose opening is the same for every search, which the phone channel synthesises
at start (like the domain's responses): "Here is what I found:" (the first line of an
answer with no price limit), "Here is what I found" (the first piece, as the synthesiser
cuts it before "under $x:", of one with a limit) and "I found nothing" (before "for ...").
Before, the last two were synthesised after the search: on a slower machine a caller asking
for laptops under $500 heard the answer 119 to 150 ms after the reply was ready."""


def product_detail(hit: SearchHit, description: str) -> str:
    """One product in words: title, brand, price, stock and the first sentence of its
    catalogue description."""
    brand = f" by {hit.brand}" if hit.brand else ""
    first = description.split(". ")[0].strip().rstrip(".")
    about = f" {first}." if first else ""
    return f"{hit.title}{brand}: ${hit.price:,.2f}, {_stock_words(hit.stock)}.{about}"
