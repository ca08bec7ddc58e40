"""The chat's relevance floor: how similar must the nearest product be to count as found?

Usage: ``.venv/bin/python -m bench.search_floor``

Builds the catalogue as ``bench/search_quality.py`` does, then scores every development
query (``bench/data/search_dev.jsonl``: each has relevant products) and every query of
``bench/data/search_nothing.txt`` (the catalogue has nothing for them) with
:func:`bot.search.relevance.relevance`, and prints, for floors from 0.15 to 0.45, the share
of development queries kept and of nothing-queries caught; the chosen floor is one step
(:data:`MARGIN`) below the highest that keeps every development query. Writes
``bench/out/search_floor.json``; exits 1 when :data:`bot.search.relevance.RELEVANCE_FLOOR`
differs from the chosen floor.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from bench.search_quality import build_service, load_dev
from bot.search.chat import strip_price
from bot.search.relevance import RELEVANCE_FLOOR, relevance
from bot.search.types import NO_FILTERS, SearchFilters

ROOT = Path(__file__).resolve().parent.parent

NOTHING = ROOT / "bench" / "data" / "search_nothing.txt"
FLOORS = [round(0.15 + 0.01 * i, 2) for i in range(31)]
MARGIN = 0.01
"""Safety step below the highest floor that keeps every development query (embeddings
differ slightly between machines and engines)."""


def load_nothing(path: Path = NOTHING) -> list[str]:
    """Queries the catalogue has nothing for (one per line, ``#`` comments)."""
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


def main() -> int:
    """Score both query sets, print the table, write the JSON; see the module docstring."""
    dev = load_dev(ROOT / "bench" / "data" / "search_dev.jsonl")
    nothing = load_nothing()
    with tempfile.TemporaryDirectory() as tmp:
        service = build_service(Path(tmp))
        found = {
            r["query"]: relevance(
                service, strip_price(r["query"]), SearchFilters(**r.get("filters", {}))
            )
            for r in dev
        }
        empty = {q: relevance(service, strip_price(q), NO_FILTERS) for q in nothing}
    rows = [
        {"floor": f,
         "dev_kept": sum(s >= f for s in found.values()) / len(found),
         "nothing_caught": sum(s < f for s in empty.values()) / len(empty)}
        for f in FLOORS
    ]
    chosen = round(max(r["floor"] for r in rows if r["dev_kept"] == 1.0) - MARGIN, 2)
    print(f"\n{len(dev)} development queries, {len(nothing)} nothing-queries\n")
    print("| floor | development queries kept | nothing-queries caught |\n|---|---|---|")
    for r in rows:
        mark = " (chosen)" if r["floor"] == chosen else ""
        print(f"| {r['floor']:.2f}{mark} | {r['dev_kept']:.1%} | {r['nothing_caught']:.1%} |")
    lowest = min(found, key=found.get)
    print(f"\nlowest development query: {lowest!r} {found[lowest]:.3f}; "
          f"RELEVANCE_FLOOR = {RELEVANCE_FLOOR}")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "search_floor.json").write_text(json.dumps(
        {"chosen": chosen, "configured": RELEVANCE_FLOOR, "table": rows,
         "development": found, "nothing": empty}, indent=2))
    return 0 if chosen == RELEVANCE_FLOOR else 1


if __name__ == "__main__":
    sys.exit(main())
