"""The action server: ``python -m actions [rasa-sdk's run options]``.

Warms product search up (:func:`actions.search.warm_up`: the embedding model loaded and the
index synced before the first customer asks) and the kick model
(:func:`actions.kicks.warm_up`), then hands the command line to rasa-sdk's
server (``rasa_sdk/__main__.py``, what ``rasa run actions`` runs), serving this package's
actions unless ``--actions`` names others. The ``Procfile`` (so ``make run``) and the test
harness (``testing/stack.py``) start the action server this way; importing the actions
loads nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from rasa_sdk.__main__ import main_from_args
from rasa_sdk.endpoint import create_argument_parser

from actions import kicks, search

PACKAGE = "actions"
"""The actions served when ``--actions`` is not given."""


def main(argv: Sequence[str] | None = None) -> None:
    """Warm up, then serve.

    Args:
        argv: rasa-sdk's command line without the program name (default: this process's),
            e.g. ``["--port", "5055"]``.
    """
    args = create_argument_parser().parse_args(argv)
    args.actions = args.actions or PACKAGE
    search.warm_up()
    kicks.warm_up()
    main_from_args(args)


if __name__ == "__main__":
    main()
