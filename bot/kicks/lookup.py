"""Kicker names for the NLU: a Rasa 3.x lookup table of every kicker in the kicker table,
and the names :mod:`bot.nlu.vocabulary` exports.

Usage: ``python -m bot.kicks.lookup data/nlu/lookup_kickers.yml [--database-url URL]``.
When the kicker table is empty, the form store is first filled from the default
simulation (no model training).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.kicks import form_store
from bot.kicks.events import Kick, clean_events
from bot.kicks.features import build_features
from bot.kicks.form import FormCounts
from bot.kicks.simulate import simulate
from bot.kicks.train import DEFAULT_N_KICKS
from bot.store.db import get_engine


def lookup_yaml(names: list[str]) -> str:
    """Rasa NLU lookup table ``kicker`` (``version: "3.1"``) listing ``names`` sorted.

    Raises:
        ValueError: a name contains a newline or is empty.
    """
    if any(not n.strip() or "\n" in n for n in names):
        raise ValueError("kicker names must be non-empty single lines")
    lines = ['version: "3.1"', "nlu:", "- lookup: kicker", "  examples: |"]
    lines += [f"    - {name}" for name in sorted(set(names))]
    return "\n".join(lines) + "\n"


def default_kicks() -> list[Kick]:
    """Clean kicks of the default training data (:data:`bot.kicks.train.DEFAULT_N_KICKS`
    simulated kicks, the simulation's default seed): what the first ``make run`` counts."""
    kicks, _ = clean_events(simulate(DEFAULT_N_KICKS).events)
    return kicks


def kicker_names(engine: Engine) -> list[str]:
    """Sorted distinct kicker names of the form store; when it is empty, those of
    :func:`default_kicks` (the store is left unchanged).

    Raises:
        sqlalchemy.exc.OperationalError: the database is not migrated (``make db``).
    """
    names = set(form_store.load_kickers(engine).values())
    return sorted(names or {kick.kicker_name for kick in default_kicks()})


def write_lookup(path: Path, database_url: str | None = None) -> int:
    """Write the lookup file for the kickers in the store; returns the number of names."""
    engine = get_engine(database_url)
    kickers = form_store.load_kickers(engine)
    if not kickers:
        kicks = default_kicks()
        counts = FormCounts()
        build_features(kicks, counts)
        form_store.replace_all(engine, counts, kicks)
        kickers = form_store.load_kickers(engine)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(lookup_yaml(list(kickers.values())), encoding="utf-8")
    return len(kickers)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bot.kicks.lookup", description=__doc__)
    parser.add_argument("output", type=Path)
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    n = write_lookup(args.output, args.database_url)
    print(f"wrote {n} kicker names to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
