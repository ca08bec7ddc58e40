"""Symbols the sentence encoder cannot read, spelled out by their Unicode names.

all-MiniLM-L6-v2's WordPiece vocabulary (BERT's, uncased) has no entry for emoji and most
other pictographs, so its tokenizer turns each into ``[UNK]``: 👍 and 👎 get the same
embedding, and any message made only of emoji looks like every other one (replay R2).
Before tokenizing, :func:`spell_symbols` replaces each symbol character that the tokenizer
would map to ``[UNK]`` with its name from the Unicode Character Database
(:func:`unicodedata.name`, lower-cased): "👍" becomes "thumbs up sign". Symbols the
vocabulary knows (``°``, ``£``, ``©``) and all letters, digits and punctuation stay as
they are. Emoji joiners, variation selectors and skin-tone modifiers, which carry no
meaning of their own here, become spaces.

The returned spans map every character of the spelled text back to the original, so
word-piece offsets still point into the message that Rasa's tokens describe.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

SILENT = {"\u200d", "\ufe0e", "\ufe0f", *map(chr, range(0x1F3FB, 0x1F400))}
"""Zero-width joiner, the text/emoji variation selectors and the five skin-tone modifiers
(U+1F3FB-U+1F3FF, Unicode Technical Standard #51)."""


def spell_symbols(
    text: str, unknown: Callable[[str], bool]
) -> tuple[str, list[tuple[int, int]] | None]:
    """``text`` with unreadable symbols replaced by their Unicode names.

    Args:
        text: any string.
        unknown: whether the encoder's tokenizer maps one character to its unknown token.

    Returns:
        ``(spelled, spans)``: the new text, and for each of its characters the
        ``[start, end)`` span of the original character it comes from (a name's
        characters all map to the symbol's span); ``(text, None)`` when nothing was
        replaced, so the common case costs no offset mapping.
    """
    if text.isascii():
        return text, None
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    for i, char in enumerate(text):
        if char in SILENT:
            out = " "
        elif unicodedata.category(char).startswith("S") and unknown(char):
            out = f" {unicodedata.name(char, '').lower()} "
        else:
            out = char
        parts.append(out)
        spans.extend([(i, i + 1)] * len(out))
    spelled = "".join(parts)
    return (text, None) if spelled == text else (spelled, spans)


def original_offsets(
    offsets: list[tuple[int, int]], spans: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Map ``[start, end)`` offsets in a spelled text back to the original text.

    Args:
        offsets: non-empty character spans in the spelled text (``start < end``); empty
            spans (``start == end``) are kept as they are.
        spans: the second result of :func:`spell_symbols` (not ``None``).

    Returns:
        The spans in the original text, in order.
    """
    return [
        (spans[start][0], spans[end - 1][1]) if end > start else (start, end)
        for start, end in offsets
    ]
