"""Command line: ``python -m bot.search.cli {rebuild,sync,query}``.

* ``rebuild``: drop both indexes and embed the whole catalogue (progress bar).
* ``sync``: embed only new or changed products and drop deleted ones.
* ``query TEXT [--mode hybrid] [--k 10]``: print ranked results.

The database is ``$DATABASE_URL`` (default the SQLite file under ``var/``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.config import database_url
from bot.search.service import SearchService
from bot.search.types import MODES, InvalidQueryError
from bot.store.db import get_engine


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command in ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bot.search.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("rebuild", help="re-embed and re-index the whole catalogue")
    commands.add_parser("sync", help="index new or changed products, drop deleted ones")
    query = commands.add_parser("query", help="search and print results")
    query.add_argument("text")
    query.add_argument("--mode", choices=MODES, default="hybrid")
    query.add_argument("--k", type=int, default=10)
    args = parser.parse_args(argv)

    service = SearchService(get_engine(database_url()))
    if args.command == "rebuild":
        print(f"indexed {service.rebuild(progress=True)} products")
    elif args.command == "sync":
        report = service.sync(progress=True)
        print(f"embedded {report.embedded} products, removed {report.removed}")
    else:
        try:
            hits = service.search(args.text, args.k, args.mode)
        except InvalidQueryError as exc:
            print(f"invalid query: {exc}", file=sys.stderr)
            return 2
        for h in hits:
            print(f"{h.rank:3d}. {h.score:8.4f}  #{h.id:<5d} {h.title} (${h.price:.2f}, {h.stock})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
