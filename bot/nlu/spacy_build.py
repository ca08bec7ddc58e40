"""Build Touchline's blank English spaCy pipeline with an EntityRuler from our own data.

No pretrained spaCy pipeline is downloaded: the pipeline is ``spacy.blank("en")`` (rule
tokenizer only) plus an ``entity_ruler`` whose phrase patterns (matched on lower case)
come from

- the shop catalogue (``products`` table): brands -> ``brand``, category slugs and their
  synonyms from ``data/nlu`` -> ``product_category``;
- colour words (the ``colour`` lookup table of ``data/nlu``, else
  :data:`DEFAULT_COLOURS`) -> ``colour``;
- kicker names (the ``kick_kickers`` table when it exists, plus the ``kicker`` lookup
  table and annotated ``kicker`` entities of ``data/nlu``) -> ``kicker``.

Regenerate after a catalogue change with one command::

    python -m bot.nlu.spacy_build            # writes var/spacy/en_touchline

Rasa loads it with ``SpacyNLP`` (``model: var/spacy/en_touchline``; ``spacy.load``
accepts a folder) or with :class:`bot.nlu.spacy_nlp.PackagedSpacyNLP`, which also stores
the folder inside the trained model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import spacy
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Engine

from bot.config import PROJECT_ROOT, var_dir
from bot.store.db import get_engine
from bot.store.models import Product

DEFAULT_COLOURS = (
    "black white red green blue yellow orange purple pink brown grey gray silver gold navy beige"
).split()
"""Colour words used when ``data/nlu`` has no ``colour`` lookup table."""


def default_output() -> Path:
    """Where the pipeline is written by default: ``<var>/spacy/en_touchline``."""
    return var_dir() / "spacy" / "en_touchline"


def _nlu_tables(nlu_dir: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Names (lookup tables and annotated entity values) and synonyms of ``nlu_dir``.

    Returns:
        ``(names, synonyms)``: lookup table or entity name -> phrases, and synonym
        surface form -> normalised value.
    """
    lookups: dict[str, list[str]] = {}
    synonyms: dict[str, str] = {}
    for path in sorted(nlu_dir.glob("*.yml")) if nlu_dir.is_dir() else []:
        data = RasaYAMLReader().read(path)
        for table in data.lookup_tables:
            lookups.setdefault(table["name"], []).extend(table["elements"])
        synonyms.update(data.entity_synonyms)
        for example in data.training_examples:
            for entity in example.get("entities") or []:
                surface = example.get("text")[entity["start"] : entity["end"]]
                lookups.setdefault(entity["entity"], []).append(surface)
    return lookups, synonyms


def _catalogue(engine: Engine) -> tuple[list[str], list[str]]:
    """Distinct brands and category slugs of the ``products`` table (empty if missing)."""
    if not inspect(engine).has_table(Product.__tablename__):
        return [], []
    with engine.connect() as conn:
        brands = conn.execute(select(Product.brand).distinct()).scalars().all()
        categories = conn.execute(select(Product.category).distinct()).scalars().all()
    return sorted({b for b in brands if b}), sorted({c for c in categories if c})


def _kickers(engine: Engine) -> list[str]:
    """Kicker names from the ``kick_kickers`` table, if the kick predictor created it."""
    if not inspect(engine).has_table("kick_kickers"):
        return []
    with engine.connect() as conn:
        names = conn.execute(text("SELECT DISTINCT name FROM kick_kickers")).scalars().all()
    return sorted({n for n in names if n})


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


def build_patterns(engine: Engine, nlu_dir: Path) -> list[dict[str, str]]:
    """EntityRuler phrase patterns from the catalogue, kicker table and NLU data.

    Args:
        engine: the shop database.
        nlu_dir: folder of Rasa NLU YAML files (lookup tables, synonyms).

    Returns:
        Patterns ``{"label", "pattern", "id"}``; ``id`` is the normalised value (the
        category slug for categories, the phrase itself otherwise). Sorted, no duplicates.
    """
    lookups, synonyms = _nlu_tables(nlu_dir)
    brands, categories = _catalogue(engine)
    patterns: dict[tuple[str, str], str] = {}
    for brand in brands:
        patterns[("brand", brand.lower())] = brand
    for slug in categories:
        for phrase in category_phrases(slug):
            patterns[("product_category", phrase)] = slug
    for surface, value in synonyms.items():
        if value in categories:
            patterns[("product_category", surface.lower())] = value
    for colour in lookups.get("colour") or DEFAULT_COLOURS:
        patterns[("colour", colour.lower())] = colour.lower()
    for name in [*_kickers(engine), *lookups.get("kicker", [])]:
        patterns[("kicker", name.lower())] = name
    return [
        {"label": label, "pattern": phrase, "id": value}
        for (label, phrase), value in sorted(patterns.items())
    ]


def build(output: Path, engine: Engine, nlu_dir: Path) -> dict[str, int]:
    """Write the blank English pipeline with its EntityRuler to ``output``.

    Args:
        output: destination folder (replaced).
        engine: the shop database.
        nlu_dir: folder of Rasa NLU YAML files.

    Returns:
        Number of patterns per entity label.
    """
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    patterns = build_patterns(engine, nlu_dir)
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
    """Command line: ``python -m bot.nlu.spacy_build [--output DIR] [--nlu DIR] [--db URL]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=default_output())
    parser.add_argument("--nlu", type=Path, default=PROJECT_ROOT / "data" / "nlu")
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default $DATABASE_URL)")
    args = parser.parse_args(argv)
    counts = build(args.output, get_engine(args.db), args.nlu)
    print(json.dumps({"output": str(args.output), "patterns": counts}))


if __name__ == "__main__":
    main()
