"""The sentences of a long message, so that a question told inside a story is not drowned.

A customer often writes two or three sentences of context around one request ("I've been
with you for years. Last week I moved house. How do I change my address?"). One sentence
embedding of the whole message is the mean of every word piece, so the story pulls it
away from the request's training examples. The sentence-embedding featurizer
(:mod:`bot.nlu.featurizer`) therefore also embeds each sentence of a message that has
several (:func:`sentences`) and leaves them on the message as :class:`SegmentFeatures`;
the intent classifier (:mod:`bot.nlu.classifier`) scores the whole message and each
sentence and keeps the one with the highest open-set score. Training examples are not
split: they are the requests themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

SEGMENT_FEATURES = "touchline_segment_features"
"""Message attribute holding :class:`SegmentFeatures` (inference only, never in output)."""
MIN_WORDS = 3
"""Words a sentence needs to be scored on its own; shorter ones ("Hi.", "Thanks!") join
the next sentence (or the previous one at the end)."""
MAX_SENTENCES = 12
"""At most this many sentences are scored: the first and the last ``MAX_SENTENCES // 2`` of
a longer message (a request sits near the start or the end of a story; replay R4, a pasted
document, must not cost one encoder pass per sentence)."""
_BOUNDARY = re.compile(r"(?<=[.!?])\s+|\s*\n+\s*")


@dataclass(frozen=True)
class SegmentFeatures:
    """Sentence embeddings of a message's sentences.

    Attributes:
        origin: the featurizer's alias, the dense block these vectors replace.
        vectors: shape ``[n_sentences, dim]``, float32, one row per :func:`sentences` item.
    """

    origin: str
    vectors: np.ndarray


def sentences(text: str, min_words: int = MIN_WORDS) -> list[str]:
    """The sentences of ``text`` worth scoring on their own.

    Sentences end at ``.``, ``!`` or ``?`` followed by white space, or at a line break;
    a piece of fewer than ``min_words`` words joins the next one (the last one joins the
    previous one).

    Args:
        text: the message (typo-corrected when the spelling step found typos).
        min_words: see :data:`MIN_WORDS`.

    Returns:
        Two to :data:`MAX_SENTENCES` sentences, or ``[]`` when the message is a single
        sentence (it is then scored as a whole only).
    """
    merged: list[str] = []
    pending = ""
    for piece in _BOUNDARY.split(text.strip()):
        pending = f"{pending} {piece}".strip() if pending else piece.strip()
        if len(pending.split()) >= min_words:
            merged.append(pending)
            pending = ""
    if pending:
        if merged:
            merged[-1] = f"{merged[-1]} {pending}"
        else:
            merged.append(pending)
    if len(merged) > MAX_SENTENCES:
        half = MAX_SENTENCES // 2
        merged = merged[:half] + merged[-half:]
    return merged if len(merged) >= 2 else []
