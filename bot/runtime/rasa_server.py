"""The Rasa server process: ``python -m bot.runtime.rasa_server run [rasa run options]``.

Everything Touchline changes in the Rasa server's process is installed here, by
:func:`install`, and nowhere else:

* :func:`bot.dialogue.action_validation.install`: action-server responses validated by a
  validator built once;
* :func:`bot.dialogue.graph_runner.install`: the prediction graph run in a fixed order,
  without dask;
* :func:`bot.dialogue.tracker_store.strict_failsafe`: a tracker store error fails the turn
  (the customer is asked to try again) instead of Rasa's silent in-memory fallback;
* :func:`bot.runtime.gc_freeze.freeze` once each server process has loaded its model and
  started (an ``after_server_start`` listener, see :func:`serve_with_freeze`).

Where it is called: :func:`main`, the one entry point of Touchline's Rasa server. The
``Procfile`` (so ``make run``) and the test and bench harness (``testing/stack.py``) start
the server through it; it installs, then hands the command line to Rasa's own CLI
(``rasa/__main__.py::main``), so every ``rasa run`` option works unchanged. Why not a
place inside Rasa: Rasa 3.6 offers no hook for a project to run code at start-up. Its
plugin manager (``rasa/plugin.py``) loads only installed packages' setuptools entry
points, and the modules it imports from ``config.yml``, ``endpoints.yml`` and
``credentials.yml`` are imported by ``rasa train``, ``rasa test`` and ``rasa shell`` too,
at moments Rasa does not promise (which is how the wiring used to hide in import side
effects of ``bot.dialogue`` and the REST channel). Each Sanic worker is forked from this
process after :func:`install` (Sanic 21.12 ``serve_multiple`` forks), so the workers
inherit it.

``rasa run`` started directly serves the same answers, only without these speed-ups.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any

import rasa.core.run

from bot.dialogue import action_validation, graph_runner, tracker_store
from bot.runtime.gc_freeze import freeze

Listener = tuple[Callable[..., Any], str]


async def _freeze_after_start(_app: object, _loop: object) -> None:
    """``after_server_start`` listener: the model is loaded by then (Rasa loads it in a
    ``before_server_start`` listener, ``rasa/core/run.py::load_agent_on_start``)."""
    freeze()


def serve_with_freeze(serve: Callable[..., None]) -> Callable[..., None]:
    """``serve`` (Rasa's ``serve_application``) with :func:`_freeze_after_start` added to
    its ``server_listeners`` (Rasa's own parameter for extra Sanic listeners)."""

    @functools.wraps(serve)
    def serve_application(*args: Any, server_listeners: Sequence[Listener] | None = None,
                          **kwargs: Any) -> None:  # noqa: ANN401
        listeners = [*(server_listeners or []), (_freeze_after_start, "after_server_start")]
        serve(*args, server_listeners=listeners, **kwargs)

    serve_application.touchline = True  # type: ignore[attr-defined]
    return serve_application


def install() -> None:
    """Install Touchline's changes into this process's Rasa (see the module docstring).

    Idempotent: a second call changes nothing.
    """
    action_validation.install()
    graph_runner.install()
    tracker_store.strict_failsafe()
    if not getattr(rasa.core.run.serve_application, "touchline", False):
        rasa.core.run.serve_application = serve_with_freeze(rasa.core.run.serve_application)


def main(argv: Sequence[str] | None = None) -> None:
    """Install, then run Rasa's CLI with ``argv`` (default: this process's arguments).

    Args:
        argv: Rasa's command line without the program name, e.g. ``["run", "--enable-api"]``.
    """
    from rasa.__main__ import main as rasa_main

    install()
    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
