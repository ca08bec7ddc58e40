"""The action server's entry point warms product search and the kick model up; importing the
actions does not."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.config import PROJECT_ROOT

SEARCHES_STARTED = ("from bot.search.service import _service_for; "
                    "print(_service_for.cache_info().misses)")
KICKS_LOADED = ("from bot.kicks.predictor import loaded_predictor; "
                "print(loaded_predictor() is not None)")


def test_importing_the_actions_loads_no_search_model(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    run = subprocess.run(
        [sys.executable, "-c",
         f"import actions, actions.search, actions.kicks; {SEARCHES_STARTED}; {KICKS_LOADED}"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["0", "False"]


def test_the_entry_point_warms_up_before_serving(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    script = ("import actions.__main__ as m; m.main_from_args = lambda args: print(args.actions); "
              f"m.main(['--port', '1']); {SEARCHES_STARTED}; {KICKS_LOADED}")
    run = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env,
                         capture_output=True, text=True, check=True)
    # served "actions" after one search warm-up; with no kick model saved it still serves
    assert run.stdout.split() == ["actions", "1", "False"]
    assert "kick questions get an apology until a model is trained" in run.stderr


def test_the_entry_point_loads_the_saved_kick_model_before_serving(kick_model):
    url, root = kick_model
    env = {**os.environ, "DATABASE_URL": url, "TOUCHLINE_KICKS_MODELS": str(root)}
    script = ("import actions.__main__ as m; m.main_from_args = lambda args: None; "
              f"{KICKS_LOADED}; m.main(['--port', '1']); {KICKS_LOADED}")
    run = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env,
                         capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["False", "True"]
