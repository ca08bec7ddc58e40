"""Search quality on the labelled development set: nDCG@10, recall@10, MRR per mode.

Usage: ``python -m bench.search_quality [--dev bench/data/search_dev.jsonl]``

Builds a fresh SQLite catalogue (``bot.store.seed.seed_products``) in a temporary folder,
indexes it with the default embedding model, runs every query of the development set in
``text`` (FTS5 BM25), ``knn`` (cosine k-NN) and ``hybrid`` (RRF) mode with the query's
filters, and prints a Markdown table overall and per query kind. Writes the numbers to
``bench/out/search_quality.json``. Target: hybrid nDCG@10 >= text (BM25) nDCG@10 + 0.10.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from bot.search.metrics import ndcg_at_k, recall_at_k, reciprocal_rank  # noqa: E402
from bot.search.service import SearchService  # noqa: E402
from bot.search.types import SearchFilters  # noqa: E402
from bot.store.db import get_engine, session_scope  # noqa: E402
from bot.store.schema import upgrade  # noqa: E402
from bot.store.seed import seed_products  # noqa: E402

MODES = ("text", "knn", "hybrid")
K = 10


def load_dev(path: Path) -> list[dict]:
    """Read the JSON-lines development set; relevance keys become ints."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for row in rows:
        row["relevant"] = {int(i): g for i, g in row["relevant"].items()}
    return rows


def build_service(folder: Path) -> SearchService:
    """Seed a SQLite catalogue in ``folder`` and index it."""
    url = f"sqlite:///{folder / 'shop.db'}"
    upgrade(url)
    with session_scope(url) as session:
        seed_products(session)
    service = SearchService(get_engine(url))
    service.sync(progress=True)
    return service


def evaluate(service: SearchService, dev: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """``{mode: {group: {"nDCG@10", "recall@10", "MRR", "n"}}}``; group "all" or a kind."""
    per: dict[str, dict[str, list[tuple[float, float, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for row in dev:
        filters = SearchFilters(**row.get("filters", {}))
        for mode in MODES:
            ranked = [h.id for h in service.search(row["query"], K, mode, filters)]
            scores = (
                ndcg_at_k(ranked, row["relevant"], K),
                recall_at_k(ranked, row["relevant"], K),
                reciprocal_rank(ranked, row["relevant"]),
            )
            per[mode]["all"].append(scores)
            per[mode][row["kind"]].append(scores)
    return {
        mode: {
            group: {
                "nDCG@10": statistics.fmean(s[0] for s in values),
                "recall@10": statistics.fmean(s[1] for s in values),
                "MRR": statistics.fmean(s[2] for s in values),
                "n": len(values),
            }
            for group, values in groups.items()
        }
        for mode, groups in per.items()
    }


def main() -> int:
    """Run the evaluation and print the tables; exit 1 when the target is missed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dev", type=Path, default=ROOT / "bench" / "data" / "search_dev.jsonl")
    args = parser.parse_args()
    dev = load_dev(args.dev)
    with tempfile.TemporaryDirectory() as tmp:
        results = evaluate(build_service(Path(tmp)), dev)
    print(f"\n{len(dev)} queries, k = {K}\n")
    print("| mode | nDCG@10 | recall@10 | MRR |\n|---|---|---|---|")
    for mode in MODES:
        r = results[mode]["all"]
        print(f"| {mode} | {r['nDCG@10']:.3f} | {r['recall@10']:.3f} | {r['MRR']:.3f} |")
    kinds = sorted(k for k in results["text"] if k != "all")
    print("\nnDCG@10 by query kind\n")
    print("| kind | n | " + " | ".join(MODES) + " |\n|---|---|" + "---|" * len(MODES))
    for kind in kinds:
        cells = " | ".join(f"{results[m][kind]['nDCG@10']:.3f}" for m in MODES)
        print(f"| {kind} | {results['text'][kind]['n']} | {cells} |")
    gain = results["hybrid"]["all"]["nDCG@10"] - results["text"]["all"]["nDCG@10"]
    print(f"\nhybrid - BM25 nDCG@10 = {gain:+.3f} (target >= +0.10)")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "search_quality.json").write_text(json.dumps(results, indent=2))
    return 0 if gain >= 0.10 else 1


if __name__ == "__main__":
    sys.exit(main())
