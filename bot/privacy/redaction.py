"""Replace payment data (and, when asked, e-mail addresses and phone numbers) in text by
labelled placeholders, before anything is stored or logged.

What counts:

* **Card numbers**: 13 to 19 digits, optionally in groups separated by single spaces or
  dashes, that pass the Luhn check (ISO/IEC 7812-1, annex B) and start with 2 to 6, the
  major industry identifiers of payment cards (ISO/IEC 7812-1: 2 to 6 are airlines and
  financial, travel and entertainment, banking, merchandising and banking), so a 13-digit
  epoch time in milliseconds (starting with 1) is left alone.
* **Security codes**: 3 or 4 digits following a card word (``cvv``, ``cvc``, ``cvv2``,
  ``csc``, ``cid``, ``security code``, ``card code``, ``verification code``...) within a
  few characters ("cvv is 123", "security code: 4567").
* **IBANs**: two letters, two check digits and 11 to 30 letters or digits (ISO 13616),
  optionally in groups of four, whose ISO 7064 mod-97-10 check gives 1.
* **E-mail addresses** (optional): ``local@domain.tld``.
* **Phone numbers** (optional): 10 to 15 digits (the E.164 maximum) in one run with
  spaces, dashes or brackets, or 8 to 15 after a ``+``; shorter numbers (order numbers,
  dates, prices, times) are never taken.

Each match becomes a placeholder naming what it was (:data:`PLACEHOLDERS`), so a transcript
still reads ("my card [card number] was declined").

A :class:`Redactor` also remembers the last card numbers it redacted and redacts any run of
seven or more of their digits elsewhere: an entity extractor or a slot may hold part of a card
number ("4111 1111 1111"), which no longer passes the Luhn check on its own.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDERS = {
    "card": "[card number]",
    "security_code": "[security code]",
    "iban": "[IBAN]",
    "email": "[e-mail]",
    "phone": "[phone number]",
}
"""The text that replaces each kind of personal data."""

_GROUPED_DIGITS = re.compile(r"(?<![\w.,/-])\d+(?:[ -]\d+)*(?![\w/]|[.,]\d)")
"""A run of digit groups separated by single spaces or dashes, not part of a word, a
decimal number or a date written with slashes."""
_GROUP = re.compile(r"[A-Za-z0-9]+")
_FRAGMENT = re.compile(r"(?<![\d])\d(?:[ -]?\d){6,}(?![\d])")
"""A run of seven or more digits (single spaces or dashes allowed between them): the
shortest part of a remembered card number that is redacted on its own. PCI DSS (v4.0,
requirement 3.4.1) lets the first six digits be shown, and order numbers such as
``TL-10001`` have five."""
RECENT_CARDS = 64
"""Card numbers a :class:`Redactor` remembers for :data:`_FRAGMENT` matching."""
_CARD_DIGITS = (13, 19)
_CARD_FIRST_DIGITS = "23456"

_SECURITY_CODE = re.compile(
    r"\b(?:cvv2?|cvc2?|cvn|csc|cid|security\s+code|card\s+code|verification\s+(?:code|value)"
    r"|card\s+verification)\b[^\w\n]{0,4}(?:(?:is|was|number|no|code|:)\W{0,3}){0,2}"
    r"(\d{3,4})(?!\d)",
    re.IGNORECASE,
)
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]){11,40}")
_IBAN_LENGTH = (15, 34)
IBAN_LENGTHS = dict(
    (code[:2], int(code[2:])) for code in (
        "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 "
        "DK18 DO28 EE20 EG29 ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 "
        "IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 MC27 MD24 "
        "ME22 MK19 MR27 MT31 MU30 NL18 NO15 PK24 PL28 PS29 PT25 QA29 RO24 RS22 SA24 SC31 "
        "SE24 SI19 SK24 SM27 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20").split())
"""IBAN length of each country (SWIFT IBAN registry): an opaque id such as a 32-hex message
id passes the mod-97 check by chance about once in 97, but rarely with a real country code
and that country's exact length."""
_EMAIL = re.compile(r"(?<![\w.+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_PHONE = re.compile(r"(?<![\w+])(\+)?\(?\d[\d ()-]{6,}\d(?![\w])")
_PHONE_DIGITS = (10, 15)
_PHONE_DIGITS_AFTER_PLUS = (8, 15)


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn check (ISO/IEC 7812-1, annex B).

    Args:
        digits: only the characters 0-9.

    Returns:
        ``True`` when the weighted digit sum is a multiple of 10.
    """
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """Whether ``text`` (spaces allowed, any case) is an IBAN by its ISO 7064 mod-97-10 check.

    The first four characters move to the end, letters become 10-35, and the number must
    leave remainder 1 when divided by 97 (ISO 13616-1).

    Args:
        text: a candidate such as ``"GB82 WEST 1234 5698 7654 32"``.

    Returns:
        ``True`` for an IBAN of its country's length (:data:`IBAN_LENGTHS`) with a valid
        check.
    """
    compact = text.replace(" ", "").upper()
    if not (_IBAN_LENGTH[0] <= len(compact) <= _IBAN_LENGTH[1]) or not compact.isalnum():
        return False
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    if not (compact[:2].isalpha() and compact[2:4].isdigit()):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _longest_valid_span(groups: list[tuple[int, int]], text: str,
                        valid: Callable[[str], bool]) -> tuple[int, int] | None:
    """The widest ``(start, end)`` covering consecutive groups whose text ``valid`` accepts."""
    best: tuple[int, int] | None = None
    for i in range(len(groups)):
        for j in range(len(groups) - 1, i - 1, -1):
            start, end = groups[i][0], groups[j][1]
            if (best is None or end - start > best[1] - best[0]) and valid(text[start:end]):
                best = (start, end)
                break
    return best


def _is_card(candidate: str) -> bool:
    digits = candidate.replace(" ", "").replace("-", "")
    return (_CARD_DIGITS[0] <= len(digits) <= _CARD_DIGITS[1]
            and digits[0] in _CARD_FIRST_DIGITS and luhn_valid(digits))


def _valid_spans(text: str, pattern: re.Pattern[str], valid: Callable[[str], bool],
                 min_length: int) -> list[tuple[int, int]]:
    """The widest run of groups in each ``pattern`` match of ``text`` that ``valid`` accepts
    (a card followed by its security code is one run of digits), as ``(start, end)``;
    matches shorter than ``min_length`` characters are skipped at once."""
    spans = []
    for match in pattern.finditer(text):
        if match.end() - match.start() < min_length:
            continue
        groups = [(match.start() + g.start(), match.start() + g.end())
                  for g in _GROUP.finditer(match.group())]
        span = _longest_valid_span(groups, text, valid)
        if span is not None:
            spans.append(span)
    return spans


def _substitute(text: str, spans: list[tuple[int, int]], label: str) -> str:
    """``text`` with each ``(start, end)`` of ``spans`` (in order, disjoint) replaced by
    ``label``."""
    out, last = [], 0
    for start, end in spans:
        out += [text[last:start], label]
        last = end
    return "".join(out) + text[last:] if out else text


def _replace_spans(text: str, pattern: re.Pattern[str], valid: Callable[[str], bool],
                   label: str, min_length: int) -> str:
    """``text`` with each of :func:`_valid_spans` replaced by ``label``."""
    return _substitute(text, _valid_spans(text, pattern, valid, min_length), label)


def _card_spans(text: str) -> list[tuple[int, int]]:
    """Where :func:`redact_cards` finds card numbers in ``text``."""
    return _valid_spans(text, _GROUPED_DIGITS, _is_card, _CARD_DIGITS[0])


def redact_cards(text: str) -> str:
    """``text`` with every Luhn-valid card number replaced by ``[card number]``."""
    return _substitute(text, _card_spans(text), PLACEHOLDERS["card"])


def redact_ibans(text: str) -> str:
    """``text`` with every IBAN that passes mod-97 replaced by ``[IBAN]``."""
    return _replace_spans(text, _IBAN, iban_valid, PLACEHOLDERS["iban"], _IBAN_LENGTH[0])


def redact_security_codes(text: str) -> str:
    """``text`` with a 3-4 digit code after a card word replaced by ``[security code]``."""
    return _SECURITY_CODE.sub(
        lambda m: m.group()[: m.start(1) - m.start()] + PLACEHOLDERS["security_code"], text)


def redact_emails(text: str) -> str:
    """``text`` with every e-mail address replaced by ``[e-mail]``."""
    return _EMAIL.sub(PLACEHOLDERS["email"], text)


def _phone(match: re.Match[str]) -> str:
    digits = sum(c.isdigit() for c in match.group())
    low, high = _PHONE_DIGITS_AFTER_PLUS if match.group(1) else _PHONE_DIGITS
    return PLACEHOLDERS["phone"] if low <= digits <= high else match.group()


def redact_phones(text: str) -> str:
    """``text`` with every phone number (see the module doc) replaced by ``[phone number]``."""
    return _PHONE.sub(_phone, text)


@dataclass(frozen=True)
class Redactor:
    """What to redact: card numbers, security codes and IBANs always; e-mail addresses and
    phone numbers when switched on (``TOUCHLINE_REDACT_EMAILS``,
    ``TOUCHLINE_REDACT_PHONES``; see :func:`bot.privacy.redactor`)."""

    emails: bool = False
    phones: bool = False
    _cards: OrderedDict[str, None] = field(default_factory=OrderedDict, repr=False,
                                           compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def text(self, text: str) -> str:
        """``text`` with the personal data this redactor covers replaced by placeholders.

        Cards go first (so a card's digits are never read as a phone number; each is
        remembered, see :meth:`_fragments`), then parts of remembered cards, IBANs,
        security codes, e-mail addresses and phone numbers. Text without a digit or an
        ``@`` is returned at once.
        """
        if not any(c.isdigit() for c in text) and "@" not in text:
            return text
        cards = _card_spans(text)
        with self._lock:
            for start, end in cards:
                number = re.sub(r"\D", "", text[start:end])
                self._cards[number] = None
                self._cards.move_to_end(number)
            while len(self._cards) > RECENT_CARDS:
                self._cards.popitem(last=False)
            known = tuple(self._cards)
        text = self._fragments(_substitute(text, cards, PLACEHOLDERS["card"]), known)
        text = redact_security_codes(redact_ibans(text))
        if self.emails:
            text = redact_emails(text)
        if self.phones:
            text = redact_phones(text)
        return text

    @staticmethod
    def _fragments(text: str, known: tuple[str, ...]) -> str:
        """``text`` with each run of seven or more digits that is part of a ``known`` card
        number (an entity or slot holding a piece of it) replaced by the card placeholder."""
        if not known:
            return text

        def part_of_card(match: re.Match[str]) -> str:
            digits = re.sub(r"\D", "", match.group())
            return PLACEHOLDERS["card"] if any(digits in card for card in known) else match.group()

        return _FRAGMENT.sub(part_of_card, text)

    def value(self, value: Any) -> Any:  # noqa: ANN401 (any JSON value)
        """A copy of a JSON-like value with every string in it redacted (dict keys kept).

        Args:
            value: ``str``, ``dict``, ``list``/``tuple`` or anything else (returned as is).

        Returns:
            The same shape with :meth:`text` applied to each string.
        """
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value
