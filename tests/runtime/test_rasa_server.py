"""The Rasa server's process wiring: nothing happens on import, everything in install(),
and make run and the harness start the server through the entry point that installs it."""

from __future__ import annotations

import inspect
import subprocess
import sys

from bot.config import PROJECT_ROOT
from bot.runtime.rasa_server import _freeze_after_start, serve_with_freeze
from testing.stack import ACTION_SERVER, RASA_SERVER

RASA_STATE = (
    "import rasa.core.processor, rasa.core.run; "
    "from rasa.core.actions.action import RemoteAction; "
    "from rasa.engine.runner.dask import DaskGraphRunner; "
    "print(RemoteAction._validate_action_result.__module__, "
    "rasa.core.processor.DaskGraphRunner is DaskGraphRunner, "
    "getattr(rasa.core.run.serve_application, 'touchline', False))"
)
"""Prints where RemoteAction's validation comes from, whether the processor uses Rasa's
graph runner, and whether serve_application freezes after start."""


def rasa_state(setup: str) -> str:
    """:data:`RASA_STATE` after ``setup``, in a fresh interpreter."""
    return subprocess.run([sys.executable, "-c", f"{setup}; {RASA_STATE}"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, check=True).stdout.strip()


def test_importing_what_rasa_loads_changes_nothing_in_rasa():
    setup = ("import bot.dialogue, bot.dialogue.lock_store, bot.dialogue.tracker_store, "
             "bot.dialogue.takeover_policy, connectors.rest")
    assert rasa_state(setup) == "rasa.core.actions.action True False"


def test_install_wires_rasa_once():
    setup = ("from bot.runtime.rasa_server import install; import rasa.core.run; "
             "install(); first = rasa.core.run.serve_application; install(); "
             "assert rasa.core.run.serve_application is first")
    assert rasa_state(setup) == "bot.dialogue.action_validation False True"


def test_the_served_application_freezes_after_start_and_keeps_rasas_signature():
    calls: list[dict] = []

    def serve(model_path=None, channel=None, server_listeners=None):  # Rasa's, shortened
        calls.append({"model_path": model_path, "server_listeners": server_listeners})

    served = serve_with_freeze(serve)
    mine = (print, "before_server_start")
    served("models/m.tar.gz", server_listeners=[mine])
    served(channel="rest")
    assert calls[0] == {"model_path": "models/m.tar.gz",
                        "server_listeners": [mine, (_freeze_after_start, "after_server_start")]}
    assert calls[1]["server_listeners"] == [(_freeze_after_start, "after_server_start")]
    # rasa.api.run passes only the keyword arguments serve_application's signature names
    assert list(inspect.signature(served).parameters) == [
        "model_path", "channel", "server_listeners"]


def test_make_run_and_the_harness_start_the_entry_points():
    procfile = (PROJECT_ROOT / "Procfile").read_text()
    assert ".venv/bin/python -m bot.runtime.rasa_server run --enable-api" in procfile
    assert ".venv/bin/python -m actions --port $ACTION_PORT" in procfile
    assert ".venv/bin/rasa run" not in procfile
    assert RASA_SERVER[1:] == ["-m", "bot.runtime.rasa_server"]
    assert ACTION_SERVER[1:] == ["-m", "actions"]
