"""The entity vocabulary of the spaCy pipeline, exported from the shop to files under
``data/entities/`` so that a model is reproducible from the repository.

One command writes the four files (``make run`` runs it when the catalogue changes)::

    python -m bot.nlu.vocabulary [--db URL] [--nlu DIR] [--out DIR]

* ``brands.txt``, ``categories.txt``: distinct brands and category slugs of the
  ``products`` table (seeded from ``data/catalogue/products.json``);
* ``colours.txt``: the ``colour`` lookup table of ``data/nlu`` (else
  :data:`DEFAULT_COLOURS`), lower case;
* ``kickers.txt``: kicker names of the kick form store, else of the default simulated
  training data (:func:`bot.kicks.lookup.kicker_names`).

One value per line, UTF-8, sorted. :func:`read` is all :mod:`bot.nlu.spacy_build` needs:
building the pipeline and training never open a database. The committed files are
checked against a fresh export of the seeded catalogue (``tests/nlu/test_vocabulary.py``).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.config import PROJECT_ROOT
from bot.store.db import get_engine
from bot.store.models import Product

VOCABULARY_DIR = PROJECT_ROOT / "data" / "entities"
"""Where the exported files live (committed)."""
NLU_DIR = PROJECT_ROOT / "data" / "nlu"
"""The Rasa NLU data: lookup tables, synonyms and annotated examples."""
DEFAULT_COLOURS = (
    "black white red green blue yellow orange purple pink brown grey gray silver gold navy beige"
).split()
"""Colour words used when ``data/nlu`` has no ``colour`` lookup table."""


@dataclass(frozen=True)
class Vocabulary:
    """Entity values by kind; each list sorted and without duplicates."""

    brands: list[str]
    categories: list[str]
    colours: list[str]
    kickers: list[str]


def nlu_tables(nlu_dir: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
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


def collect(engine: Engine, nlu_dir: Path = NLU_DIR) -> Vocabulary:
    """Read the vocabulary from the shop database and the NLU data.

    Args:
        engine: the migrated shop database (products and kick form store).
        nlu_dir: folder of Rasa NLU YAML files (the ``colour`` lookup table).

    Raises:
        sqlalchemy.exc.OperationalError: the database is not migrated (``make db``).
    """
    from bot.kicks.lookup import kicker_names  # the simulator, only for an empty store

    with engine.connect() as conn:
        brands = conn.execute(select(Product.brand).distinct()).scalars().all()
        categories = conn.execute(select(Product.category).distinct()).scalars().all()
    lookups, _ = nlu_tables(nlu_dir)
    return Vocabulary(
        brands=sorted({b for b in brands if b}),
        categories=sorted({c for c in categories if c}),
        colours=sorted({c.lower() for c in lookups.get("colour") or DEFAULT_COLOURS}),
        kickers=[n for n in kicker_names(engine) if n],
    )


def write(vocabulary: Vocabulary, folder: Path = VOCABULARY_DIR) -> dict[str, int]:
    """Write one ``<kind>.txt`` per kind to ``folder``; returns the number of values."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind, values in asdict(vocabulary).items():
        if any("\n" in v or v != v.strip() for v in values):
            raise ValueError(f"{kind}: values must be single trimmed lines")
        (folder / f"{kind}.txt").write_text("".join(f"{v}\n" for v in values), encoding="utf-8")
    return {kind: len(values) for kind, values in asdict(vocabulary).items()}


def read(folder: Path = VOCABULARY_DIR) -> Vocabulary:
    """Read the exported vocabulary.

    Raises:
        FileNotFoundError: a file is missing (export it with ``python -m bot.nlu.vocabulary``).
    """
    values = {}
    for field in fields(Vocabulary):
        path = folder / f"{field.name}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `python -m bot.nlu.vocabulary`")
        values[field.name] = [v for v in path.read_text(encoding="utf-8").splitlines() if v]
    return Vocabulary(**values)


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m bot.nlu.vocabulary [--db URL] [--nlu DIR] [--out DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default $DATABASE_URL)")
    parser.add_argument("--nlu", type=Path, default=NLU_DIR)
    parser.add_argument("--out", type=Path, default=VOCABULARY_DIR)
    args = parser.parse_args(argv)
    counts = write(collect(get_engine(args.db), args.nlu), args.out)
    print(json.dumps({"output": str(args.out), "values": counts}))


if __name__ == "__main__":
    main()
