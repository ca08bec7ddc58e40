"""What a follow-up names inside a support flow: the cart line ("the face wash", "it",
"the one at 24.99"), a quantity ("make it 2"), a payment method ("can I pay with klarna?").

Which follow-up a message is comes from :mod:`bot.dialogue.followups`; the words of the
answers from :mod:`bot.support.wording`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from spacy.lang.en.stop_words import STOP_WORDS

from bot.store.carts import CartLine
from bot.store.payments import MethodOffer

_PRICE = re.compile(r"(?<![\d.])(\d{1,6}(?:\.\d{1,2})?)(?![\d.])")
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                 "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a single": 1, "just one": 1}
_QUANTITY = re.compile(
    r"\b(?:to|make (?:it|that|them)|want|need|only|just|have|set .{0,30} to)\s+"
    r"(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten)\b|"
    r"\b(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten)\s+(?:of (?:them|those|it)|"
    r"instead)\b", re.IGNORECASE)
MAX_QUANTITY = 99
"""Largest quantity a chat message may set on one line."""
_GENERIC = frozenset({"item", "items", "thing", "things", "product", "cart", "basket",
                      "price", "site", "says", "shows", "total", "wrong", "remove",
                      "delete", "quantity", "make", "want", "change", "instead", "less",
                      "more", "cheaper", "expensive", "dollars", "dollar"})


def _stem(word: str) -> str:
    if word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _words(text: str) -> set[str]:
    return {_stem(w) for w in re.findall(r"[a-z]+", text.lower())
            if len(w) > 2 and w not in STOP_WORDS and w not in _GENERIC}


def fixes_context(fixes: Sequence[Any]) -> list[dict[str, str]]:
    """The repairs of a cart as the ``last_cart`` slot keeps them (JSON-friendly):
    ``[{"kind", "title", "old", "new"}]`` with prices as strings (``""``: none)."""
    return [{"kind": f.kind, "title": f.title,
             "old": "" if f.old_price is None else f"{f.old_price:.2f}",
             "new": "" if f.new_price is None else f"{f.new_price:.2f}"} for f in fixes]


def _decimal(value: object) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01")) if value not in (None, "") else None
    except InvalidOperation:
        return None


def old_price_of(title: str, fixes: Sequence[dict[str, str]]) -> Decimal | None:
    """The stale unit price a repair in ``fixes`` corrected for ``title``, if any."""
    for fix in fixes:
        if fix.get("kind") == "repriced" and fix.get("title") == title:
            return _decimal(fix.get("old"))
    return None


def named_line(
    lines: Sequence[CartLine], text: str, fixes: Sequence[dict[str, str]] = ()
) -> CartLine | None:
    """The cart line a follow-up means.

    Tried in order: the line whose title or category shares the most words with the
    message ("the lipstick"); a price in the message equal to a line's unit price or to
    the stale price a repair corrected ("it says 24.99"); the one repriced line when a
    repair corrected one; the only line of the cart.

    Args:
        lines: the cart's lines now.
        text: the customer's message.
        fixes: the ``last_cart`` context (:func:`fixes_context`).

    Returns:
        The line, or ``None`` when the message names none of them unambiguously.
    """
    words = _words(text)
    scored = sorted(((len(words & _words(f"{ln.title} {ln.category}")), i)
                     for i, ln in enumerate(lines)), reverse=True)
    if scored and scored[0][0] > 0 and (len(scored) == 1 or scored[1][0] < scored[0][0]):
        return lines[scored[0][1]]
    prices = {_decimal(m.group(1)) for m in _PRICE.finditer(text)}
    for ln in lines:
        if ln.unit_price in prices or old_price_of(ln.title, fixes) in prices:
            return ln
    repriced = [f["title"] for f in fixes if f.get("kind") == "repriced"]
    matching = [ln for ln in lines if ln.title in repriced]
    if len(matching) == 1:
        return matching[0]
    return lines[0] if len(lines) == 1 else None


def quantity_in(text: str) -> int | None:
    """The quantity a message asks for ("make it 2", "I only want one", "3 instead"), or
    ``None``; values above :data:`MAX_QUANTITY` are ``None`` too."""
    match = _QUANTITY.search(text)
    if match is None:
        return None
    raw = (match.group(1) or match.group(2)).lower()
    number = _NUMBER_WORDS.get(raw) or (int(raw) if raw.isdigit() else None)
    return number if number is not None and 0 <= number <= MAX_QUANTITY else None


def method_named(methods: Sequence[MethodOffer], text: str) -> MethodOffer | None:
    """The payment method a message names ("klarna", "apple pay", "a credit card")."""
    lowered = " " + re.sub(r"[^a-z]+", " ", text.lower()) + " "
    squashed = lowered.replace(" ", "")
    for method in methods:
        names = {method.code.replace("_", " "), method.name.lower()}
        if method.code == "card":
            names |= {"credit card", "debit card", "card", "visa", "mastercard"}
        if any(f" {n} " in lowered or (" " in n and n.replace(" ", "") in squashed)
               for n in names):
            return method
    return None
