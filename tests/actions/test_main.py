"""The action server's entry point warms product search up; importing the actions does not."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.config import PROJECT_ROOT

SEARCHES_STARTED = ("from bot.search.service import _service_for; "
                    "print(_service_for.cache_info().misses)")


def test_importing_the_actions_loads_no_search_model(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    run = subprocess.run(
        [sys.executable, "-c", f"import actions, actions.search; {SEARCHES_STARTED}"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "0"


def test_the_entry_point_warms_up_before_serving(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    script = ("import actions.__main__ as m; m.main_from_args = lambda args: print(args.actions); "
              f"m.main(['--port', '1']); {SEARCHES_STARTED}")
    run = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env,
                         capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["actions", "1"]  # served "actions" after one warm-up
