"""Build Touchline's blank English spaCy pipeline with an EntityRuler from data files.

No pretrained spaCy pipeline is downloaded: the pipeline is ``spacy.blank("en")`` (rule
tokenizer only) plus an ``entity_ruler`` whose phrase patterns (matched on lower case)
come from files of the repository only, never from a database:

- the exported vocabulary ``data/entities/`` (:mod:`bot.nlu.vocabulary`): brands ->
  ``brand``, category slugs (and their synonyms from ``data/nlu``) ->
  ``product_category``, colour words -> ``colour``, kicker names -> ``kicker``;
- the ``kicker`` lookup table and annotated ``kicker`` entities of ``data/nlu`` ->
  ``kicker``.

Regenerate after a catalogue change (``make run`` does both when the catalogue changes)::

    python -m bot.nlu.vocabulary             # the shop database -> data/entities/
    python -m bot.nlu.spacy_build            # data/ -> var/spacy/en_touchline

Rasa loads it with :class:`bot.nlu.spacy_nlp.SpacyNLP` (``model: var/spacy/en_touchline``),
which also stores the folder inside the trained model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import spacy

from bot.config import var_dir
from bot.nlu.vocabulary import NLU_DIR, VOCABULARY_DIR, Vocabulary, nlu_tables, read


def default_output() -> Path:
    """Where the pipeline is written by default: ``<var>/spacy/en_touchline``."""
    return var_dir() / "spacy" / "en_touchline"


def category_phrases(slug: str) -> list[str]:
    """Surface forms of a category slug: ``"mens-shirts"`` -> ``mens shirts``, ``men's shirts``.

    Args:
        slug: the catalogue's category, lower case with hyphens.

    Returns:
        Distinct phrases, the slug itself first.
    """
    spaced = slug.replace("-", " ")
    forms = [slug, spaced]
    for prefix in ("mens ", "womens "):
        if spaced.startswith(prefix):
            forms += [spaced.replace(prefix, prefix[:-2] + "'s ", 1), spaced[len(prefix) :]]
    return list(dict.fromkeys(forms))


def build_patterns(vocabulary: Vocabulary, nlu_dir: Path) -> list[dict[str, str]]:
    """EntityRuler phrase patterns from the exported vocabulary and the NLU data.

    Args:
        vocabulary: brands, categories, colours and kickers (:func:`bot.nlu.vocabulary.read`).
        nlu_dir: folder of Rasa NLU YAML files (lookup tables, synonyms).

    Returns:
        Patterns ``{"label", "pattern", "id"}``; ``id`` is the normalised value (the
        category slug for categories, the phrase itself otherwise). Sorted, no duplicates.
    """
    lookups, synonyms = nlu_tables(nlu_dir)
    categories = vocabulary.categories
    patterns: dict[tuple[str, str], str] = {}
    for brand in vocabulary.brands:
        patterns[("brand", brand.lower())] = brand
    for slug in categories:
        for phrase in category_phrases(slug):
            patterns[("product_category", phrase)] = slug
    for surface, value in synonyms.items():
        if value in categories:
            patterns[("product_category", surface.lower())] = value
    for colour in vocabulary.colours:
        patterns[("colour", colour.lower())] = colour.lower()
    for name in [*vocabulary.kickers, *lookups.get("kicker", [])]:
        patterns[("kicker", name.lower())] = name
    return [
        {"label": label, "pattern": phrase, "id": value}
        for (label, phrase), value in sorted(patterns.items())
    ]


def build(
    output: Path, vocabulary_dir: Path = VOCABULARY_DIR, nlu_dir: Path = NLU_DIR
) -> dict[str, int]:
    """Write the blank English pipeline with its EntityRuler to ``output``.

    Args:
        output: destination folder (replaced).
        vocabulary_dir: the exported vocabulary files (default ``data/entities``).
        nlu_dir: folder of Rasa NLU YAML files (default ``data/nlu``).

    Returns:
        Number of patterns per entity label.

    Raises:
        FileNotFoundError: a vocabulary file is missing.
    """
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    patterns = build_patterns(read(vocabulary_dir), nlu_dir)
    ruler.add_patterns(patterns)
    nlp.meta["name"] = "touchline"
    nlp.meta["description"] = "Blank English tokenizer + EntityRuler from Touchline's data"
    output.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)
    counts: dict[str, int] = {}
    for pattern in patterns:
        counts[pattern["label"]] = counts.get(pattern["label"], 0) + 1
    return counts


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m bot.nlu.spacy_build [--output DIR] [--vocabulary DIR]
    [--nlu DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=default_output())
    parser.add_argument("--vocabulary", type=Path, default=VOCABULARY_DIR)
    parser.add_argument("--nlu", type=Path, default=NLU_DIR)
    args = parser.parse_args(argv)
    counts = build(args.output, args.vocabulary, args.nlu)
    print(json.dumps({"output": str(args.output), "patterns": counts}))


if __name__ == "__main__":
    main()
