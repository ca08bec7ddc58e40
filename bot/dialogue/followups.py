"""Follow-ups: which earlier request a message continues, and what it asks of it.

A conversation's context is the topic of the last request the bot answered (the ``topic``
slot: ``order``, ``payment``, ``cart``, ``discount``, ``search`` or ``kicks``) and that
request's own context slots (the order, the payment, the cart's fixes, the code, the last
search and its products, the last kick).  A message continues the topic when it asks one
of the questions customers ask next (:data:`PATTERNS`, and for kicks a change of spot or
kicker, :func:`bot.kicks.chat.kick_change`); :func:`follow_up` says which, whatever the
intent the NLU read (a short follow-up such as "why is it late?" is often out of scope on
its own).  The README's "Context rules" say what carries over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spacy.lang.en.stop_words import STOP_WORDS

from bot.kicks.chat import kick_change
from bot.support.answers import discount_code_in, order_number_in

TOPIC_SLOT = "topic"
"""Slot naming the topic of the last request answered."""
TOPIC_OF_INTENT = {
    "order_status": "order", "payment_issue": "payment", "cart_issue": "cart",
    "discount_code": "discount", "product_search": "search", "kick_stats": "kicks",
}
"""The topic each request intent starts."""

_I = re.IGNORECASE
PATTERNS: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {
    "payment": (
        ("charge_question", re.compile(
            r"\b(?:will|would|could|might|won'?t|wouldn'?t|am i going to|do i get|does it|"
            r"is it going to|if i)\b.{0,40}\b(?:charged|billed|pay|paying|taken)\b.{0,25}"
            r"\b(?:twice|again|double|two times|more than once)\b", _I)),
        ("retry", re.compile(
            r"\b(?:retry|re-try|try (?:it |the payment )?again|pay again|another go|"
            r"try once more|have another go)\b", _I)),
        ("method", re.compile(
            r"\b(?:klarna|paypal|pay ?pal|apple ?pay|google ?pay|bank transfer|"
            r"transfer|credit card|debit card|another card|different card)\b", _I)),
        ("methods", re.compile(
            r"\b(?:methods?|options?|ways? (?:to|of|I can) pay|how (?:can|else can|do) i pay|"
            r"what (?:can|do) (?:i|you) (?:pay with|accept|take)|what (?:do|can) you take)\b",
            _I)),
    ),
    "order": (
        ("cancel", re.compile(r"\bcancel", _I)),
        ("change_address", re.compile(
            r"\b(?:address|deliver (?:it )?to|send it to|ship it to|redirect|"
            r"different house|new house|moved)\b", _I)),
        ("why_late", re.compile(
            r"\b(?:why|late|delay(?:ed)?|taking (?:so )?long|so slow|held up|stuck|"
            r"what happened)\b", _I)),
        ("other_order", re.compile(
            r"\b(?:not (?:that|this) one|(?:the )?other (?:one|order)|my other|"
            r"wrong order|another order)\b", _I)),
        ("when", re.compile(
            r"\b(?:when|arrive|get here|eta|tracking|track|where is it|where's it)\b", _I)),
    ),
    "cart": (
        ("remove", re.compile(
            r"\b(?:remove|delete|take (?:out|off)|take (?:it|them|that|the \w+) out|"
            r"get rid of|don'?t want (?:it|that|the)|drop)\b", _I)),
        ("quantity", re.compile(
            r"\b(?:quantity|make (?:it|that) \d+|(?:change|set) .{0,30} to \d+|"
            r"only (?:want|need) (?:\d+|one|two|three)|i (?:want|need) (?:\d+|two|three|four) "
            r"(?:of|instead)|\d+ instead)\b", _I)),
        ("line_price", re.compile(
            r"\b(?:says|shows|showing|price[sd]?|costs?|charging|charged|more than|"
            r"less than|\d+\.\d\d)\b", _I)),
    ),
    "discount": (
        ("which_codes", re.compile(
            r"\b(?:which|what|any|other|available|valid)\b.{0,30}\b(?:codes?|vouchers?|"
            r"coupons?|discounts?)\b|\b(?:codes?|vouchers?|coupons?)\b.{0,20}"
            r"\b(?:can i use|available|valid|for me|do you have|are there)\b", _I)),
        ("why_not", re.compile(
            r"^\W*(?:why(?: not)?|how come|what'?s wrong|but why|why doesn'?t|why didn'?t|"
            r"why won'?t|it should)\b", _I)),
    ),
    "search": (
        ("cheaper", re.compile(
            r"\b(?:cheaper|less expensive|lower price|more affordable|too (?:expensive|pricey|"
            r"dear))\b", _I)),
        ("other_colour", re.compile(
            r"\b(?:another|other|different) colou?rs?\b|\bin other colou?rs\b|"
            r"\bcolou?rs? (?:does|do) (?:it|they) come\b", _I)),
        ("in_stock", re.compile(
            r"\b(?:only (?:the ones )?in stock|in stock only|(?:which|what) (?:ones )?"
            r"(?:are|is) in stock|only (?:what|ones) you have|available now|"
            r"ones (?:you|that) have)\b", _I)),
        ("more_like", re.compile(
            r"\b(?:more like|similar|like (?:this|that|it|the \w+ one)|others like|"
            r"alternatives?)\b", _I)),
        ("not_that", re.compile(
            r"\b(?:not (?:that|this|those) ones?|something else|other (?:ones|options)|"
            r"anything else|show me (?:more|others)|none of (?:those|these|them))\b", _I)),
        ("pick", re.compile(
            r"\b(?:first|second|third|last|1st|2nd|3rd|that|this) one\b|"
            r"\b(?:the )?(?:first|second|third|last)\b|\bnumber [1-3]\b|^\W*#?[1-3]\W*$|"
            r"\b(?:tell me (?:more )?about|more (?:about|on|details)|details of|"
            r"is (?:it|that) in stock|how much is (?:it|that))\b", _I)),
    ),
}
"""The follow-up kinds of each topic, tried in order (the first that matches wins)."""

_ORDINALS = (
    (0, re.compile(r"\b(?:first|1st|number 1)\b|^\W*#?1\W*$", _I)),
    (1, re.compile(r"\b(?:second|2nd|number 2|middle)\b|^\W*#?2\W*$", _I)),
    (2, re.compile(r"\b(?:third|3rd|number 3)\b|^\W*#?3\W*$", _I)),
    (-1, re.compile(r"\b(?:last|bottom)(?: one)?\b", _I)),
)
THAT_ONE = "that"
"""``ref`` of "that one" / "it": the product last picked, else the first listed."""
_THAT = re.compile(r"\b(?:that|this) one\b|\bit\b|\bthat\b", _I)


@dataclass(frozen=True)
class FollowUp:
    """A message that continues the conversation's topic.

    Attributes:
        topic: the topic continued (a value of :data:`TOPIC_OF_INTENT`).
        kind: what it asks (a kind of :data:`PATTERNS`; ``kick`` for a change of kick).
        ref: for search, the listed product it names: an index into the last list
            (``-1``: the last) or :data:`THAT_ONE`; ``None`` when it names none.
    """

    topic: str
    kind: str
    ref: int | str | None = None


def product_ref(text: str) -> int | str | None:
    """The listed product a message names: "the second one" → 1, "the last one" → -1,
    "that one"/"it" → :data:`THAT_ONE`, nothing → ``None``."""
    for index, pattern in _ORDINALS:
        if pattern.search(text):
            return index
    return THAT_ONE if _THAT.search(text) else None


def follow_up(
    topic: str | None, text: str, intent: str | None, kicker: str | None = None
) -> FollowUp | None:
    """Whether ``text`` continues ``topic`` and how.

    Args:
        topic: the ``topic`` slot (``None``: nothing answered yet, or after "start over").
        text: the customer's message.
        intent: the intent the NLU read; a request of another topic with no follow-up
            wording of this one starts that request instead.
        kicker: the ``kicker`` entity of the message, if any.

    Returns:
        The :class:`FollowUp`, or ``None`` when the message is no follow-up of ``topic``.
    """
    if topic is None or not text.strip():
        return None
    own = TOPIC_OF_INTENT.get(intent or "")
    if own is not None and own != topic and (topic, own) not in _CONFUSED:
        return None
    if topic == "order" and order_number_in(text):
        return FollowUp("order", "lookup")
    if topic == "discount" and own != "discount" and discount_code_in(text):
        return FollowUp("discount", "code")
    if topic == "search" and own == "search" and _names_products(text):
        return None
    if topic == "kicks":
        return None if kick_change(text, kicker).empty else FollowUp("kicks", "kick")
    for kind, pattern in PATTERNS.get(topic, ()):
        if pattern.search(text):
            if (topic, own) == ("cart", "search") and not (
                    kind in ("remove", "quantity") or _IN_THE_CART.search(text)):
                return None
            return FollowUp(topic, kind, product_ref(text) if topic == "search" else None)
    return None


_CONFUSED = {
    ("cart", "discount"), ("cart", "payment"), ("cart", "search"), ("order", "payment"),
    ("order", "cart"),
    ("payment", "order"),
    ("payment", "cart"), ("discount", "cart"), ("discount", "search"), ("search", "cart"),
    ("kicks", "search"), ("order", "search"), ("payment", "search"),
}
"""(topic, intent's topic) pairs the NLU mixes up in follow-ups ("it says 24.99 for the
face wash" in a cart conversation reads as a discount question): there the topic's
follow-up wording wins over the intent. A product query in a cart conversation continues
the cart only to remove a line, change a quantity, or when it says "in my cart"."""
_IN_THE_CART = re.compile(
    r"\b(?:in (?:there|it)|(?:in|from|on) (?:my|the) (?:cart|basket|bag)|it says|"
    r"the site says)\b", _I)


FOLLOW_UP_WORDS = frozenset(STOP_WORDS) | frozenset({
    "cheaper", "expensive", "pricey", "dear", "affordable", "lower", "price", "colour",
    "color", "colours", "colors", "different", "stock", "available", "similar", "like",
    "alternatives", "alternative", "ones", "show", "please", "options", "first", "second",
    "third", "last", "tell", "details", "cost", "costs", "want", "instead", "bit", "ok",
    "okay", "hmm", "come", "comes", "got", "have", "need", "look", "looking", "let", "see",
    "number", "1st", "2nd", "3rd", "slightly", "little", "shown", "listed", "things",
    "thing", "item", "items", "product", "products", "stuff", "budget",
})
"""Words of a search follow-up that name no product."""


def _names_products(text: str) -> bool:
    """Whether a search message names products of its own ("a cheaper laptop"): then it
    is a new query, not a follow-up of the last list."""
    words = re.findall(r"[a-z][a-z'0-9]*", text.lower())
    return any(w not in FOLLOW_UP_WORDS for w in words)
