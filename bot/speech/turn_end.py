"""Whether an early transcript reads as a finished request (adaptive end of turn).

Whisper punctuates what it hears: a caller who stopped mid-phrase ("my order number is")
usually gets no final full stop, or one after a word that cannot end an English request.
A transcript counts as complete when its last word is none of :data:`HANGING_WORDS` (nor,
unless it is a question, of :data:`LEAD_IN_WORDS`) and it ends with ``.``, ``?`` or ``!``
(not an ellipsis), or it ends with a word and NLU understood it: Whisper sometimes leaves
a finished request unpunctuated ("as order ten thousand two been shipped yet").
"""

from __future__ import annotations

import re

HANGING_WORDS = frozenset(
    """a an the my your our their his her its this that these those some any no every
    is are was were be been am do does did have has had will would can could should may
    might must shall to of in on at by for with from about into over under as than and
    or but so because if when while where which who whose what how then also just
    like um uh er""".split()
)
"""Words after which a request cannot end: articles, possessives, auxiliaries, prepositions,
conjunctions, fillers."""
LEAD_IN_WORDS = frozenset("number code address email name called".split())
"""Nouns callers stop after before reading something out ("my order number ..."): a
transcript ending with one is complete only as a question ("what is my order number?")."""

_LAST_WORD = re.compile(r"([A-Za-z']+)\W*$")


def complete_request(text: str, understood: bool = False) -> bool:
    """Whether ``text`` (an early transcript) reads as a finished request.

    Args:
        text: the recogniser's transcript of the words so far.
        understood: whether NLU read a request in it (an intent other than a fallback).

    Returns:
        ``True`` when its last word is not in :data:`HANGING_WORDS` (nor in
        :data:`LEAD_IN_WORDS` unless it ends with ``?``) and it ends with ``.``, ``?`` or
        ``!`` (not ``...``), or with a letter or digit when ``understood``; ``False`` for
        anything else (a trailing comma, empty text) included.
    """
    text = text.strip()
    if not text or text.endswith("..") or text.endswith("…"):
        return False
    if text[-1] not in ".?!" and not (understood and text[-1].isalnum()):
        return False
    last = _LAST_WORD.search(text)
    word = last.group(1).lower() if last is not None else ""
    return word not in HANGING_WORDS and (text[-1] == "?" or word not in LEAD_IN_WORDS)
