"""Is a message in English? Touchline understands English only; a message that plainly is
not gets "I only understand English for now" (:data:`bot.support.wording.ENGLISH_ONLY`)
instead of a guess (issue #13)."""

from __future__ import annotations

import re
import unicodedata

FOREIGN_WORDS = frozenset({
    # Spanish
    "el", "los", "las", "una", "unos", "unas", "del", "para", "por", "con", "que", "qué",
    "quiero", "busco", "tienen", "tiene", "hay", "mis", "está", "dónde", "donde", "cómo",
    "zapatos", "zapatillas", "camisa", "vestido", "barato", "baratos", "rojo", "roja",
    "hola", "gracias", "pedido", "mujer", "hombre", "mujeres", "hombres", "menos", "dólares",
    "puedo", "pagar", "tarjeta", "mío", "mía", "necesito", "hijo", "hija",
    # French
    "les", "des", "pour", "avec", "je", "cherche", "une", "est", "où", "commande", "merci",
    "bonjour", "chaussures", "robe", "pas", "moins",
    # German
    "der", "das", "und", "für", "ich", "suche", "mit", "ist", "wo", "meine", "bestellung",
    "danke", "schuhe", "nicht", "eine", "einen",
    # Portuguese / Italian
    "não", "obrigado", "sapatos", "meu", "minha", "voglio", "scarpe", "grazie", "sono",
})
"""Common words of other Latin-script languages that are not English words."""

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _latin(char: str) -> bool:
    return unicodedata.name(char, "").startswith("LATIN")


def is_foreign(text: str) -> bool:
    """Whether ``text`` is plainly not English.

    Args:
        text: a customer message.

    Returns:
        ``True`` when most of its letters are not Latin (Chinese, Cyrillic, Arabic...), or
        when it has an inverted ``¿``/``¡`` or at least two different words of
        :data:`FOREIGN_WORDS`, a third of its words or more; ``False`` for English, for text
        without letters, and for a few foreign words inside English ("a café latte mug").
    """
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    if sum(not _latin(c) for c in letters) * 2 > len(letters):
        return True
    if "¿" in text or "¡" in text:
        return True
    words = [w.lower() for w in _WORD.findall(text)]
    foreign = [w for w in words if w in FOREIGN_WORDS]
    return len(set(foreign)) >= 2 and len(foreign) * 3 >= len(words)
