"""What a customer's answer to a form question is: a discount code, an e-mail address, an
order number, a wish to leave the question, or none of these.

A form slot is filled only by a value that is one (issue #13, "forms that validate"); this
module decides, from the text as typed, without the NLU model. Internal names never come
out of it: a slash payload (``/nlu_fallback``) is never a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from spacy.lang.en.stop_words import STOP_WORDS

from bot.store.customers import EMAIL_RE, normalise_order_number
from bot.store.discounts import CODE_MAX_LEN, normalise_code

CODE_RE = re.compile(rf"^[A-Z0-9][A-Z0-9_-]{{2,{CODE_MAX_LEN - 1}}}$")
"""Shape of a discount code once normalised (upper case, 3 to ``CODE_MAX_LEN`` characters)."""

CODE_CUES = frozenset({"code", "codes", "voucher", "coupon", "promo", "discount"})
"""Words after which the next word is offered as a code ("code spring", "voucher: spring")."""

COMMON_WORDS = frozenset(STOP_WORDS) | CODE_CUES | frozenset({
    "apply", "use", "want", "got", "please", "thanks", "thank", "hello", "hi", "hey", "yes",
    "no", "ok", "okay", "order", "cart", "help", "number", "email", "mail", "person",
    "human", "agent", "promotion", "vouchers", "coupons", "discounts", "try", "need",
    "sorry", "stop", "cancel", "new", "sale", "offer", "free", "money", "price",
})
"""Lower-case words that are never a code, even typed in capitals: spaCy's English stop
words plus the words customers use around codes."""

LEAVE_PHRASES = frozenset({
    "stop", "cancel", "quit", "exit", "skip", "skip it", "never mind", "nevermind",
    "forget it", "forget about it", "leave it", "no thanks", "no thank you", "stop it",
    "stop asking",
})
"""Whole answers that mean "I don't want to answer this question" (punctuation ignored)."""

_EDGE_PUNCT = "\"'()[]{}<>.,;:!?“”‘’"
_ORDER_TOKEN = re.compile(r"(?i)^(?:tl)?[#-]?\d{5}$")
_EMAIL_IN_TEXT = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,24}")


def is_payload(text: str) -> bool:
    """Whether the text is a slash payload (``/affirm``, ``/nlu_fallback``), not words."""
    return text.strip().startswith("/")


def wants_to_leave(text: str) -> bool:
    """Whether the whole answer asks to leave the question ("stop", "never mind")."""
    words = " ".join(text.lower().strip(_EDGE_PUNCT + " ").split())
    return words.strip(_EDGE_PUNCT) in LEAVE_PHRASES


def _tokens(text: str) -> list[str]:
    return [t.strip(_EDGE_PUNCT) for t in text.split() if t.strip(_EDGE_PUNCT)]


def _code_of(token: str) -> str | None:
    """The normalised code when ``token`` has a code's shape and is not a common word."""
    if "/" in token or "@" in token or token.lower() in COMMON_WORDS:
        return None
    code = normalise_code(token)
    return code if CODE_RE.match(code) and not _ORDER_TOKEN.match(token) else None


def discount_code_in(text: str, entities: Iterable[str] = ()) -> str | None:
    """The discount code the customer offered in ``text``, or ``None``.

    Args:
        text: the answer as typed ("it's spring10", "code: FREESHIP", "I have a code").
        entities: ``discount_code`` entity values the NLU found in it (trusted when they
            have a code's shape and are not common words).

    Returns:
        The code, normalised (``SPRING10``). A word counts when it has a code's shape
        (:data:`CODE_RE`), is not a common English word (:data:`COMMON_WORDS`), and was
        offered as a code: it contains a digit, was typed in capitals, or follows "code",
        "voucher", "coupon" or "promo" (optionally with "is" between). An answer that is a
        slash payload has no code; an e-mail address or an order number is not a code.
    """
    if is_payload(text):
        return None
    for value in entities:
        code = _code_of(str(value))
        if code:
            return code
    tokens = _tokens(text)
    cued, marked = [], []
    for i, token in enumerate(tokens):
        code = _code_of(token)
        if code is None:
            continue
        before = [t.lower() for t in tokens[max(0, i - 2):i]]
        if (before and before[-1] in CODE_CUES) or (
            len(before) == 2 and before[0] in CODE_CUES and before[1] in ("is", "was")
        ):
            cued.append(code)
        elif any(ch.isdigit() for ch in token) or (token.isupper() and len(token) >= 3):
            marked.append(code)
    found = cued or marked
    return found[0] if found else None


def email_in(text: str) -> str | None:
    """The first e-mail address in the text (as :data:`EMAIL_RE` accepts it), else ``None``."""
    if is_payload(text):
        return None
    for match in _EMAIL_IN_TEXT.finditer(text):
        candidate = match.group().strip(_EDGE_PUNCT)
        if EMAIL_RE.match(candidate):
            return candidate
    return None


def order_number_in(text: str) -> str | None:
    """The order number in the text, canonical (``TL-10042``), else ``None``."""
    return None if is_payload(text) else normalise_order_number(text)


def what_it_is(text: str) -> str:
    """A short name for an answer that is not the value asked for, to say what it looked
    like: ``"e-mail address"``, ``"order number"``, or ``""`` (nothing recognisable)."""
    if email_in(text):
        return "e-mail address"
    if any(_ORDER_TOKEN.match(t) for t in _tokens(text)):
        return "order number"
    return ""
