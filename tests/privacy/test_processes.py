"""The processes of ``make run``: Rasa with its telemetry off, every log record redacted,
and the retention job daily."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest

from bot.config import PROJECT_ROOT

ASK_RASA = "import rasa.telemetry as t; print(t.is_telemetry_enabled())"


def procfile() -> dict[str, str]:
    """The ``Procfile``'s entries, name -> command."""
    lines = (PROJECT_ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def telemetry_under(command: str, environ: dict[str, str]) -> str:
    """What ``rasa.telemetry.is_telemetry_enabled()`` says with the variables the command
    sets before its program (as honcho runs it, through the shell)."""
    words = shlex.split(command)
    assignments = " ".join(w for w in words[: next(i for i, w in enumerate(words)
                                                   if "=" not in w)])
    probe = f"{assignments} {shlex.quote(sys.executable)} -c {shlex.quote(ASK_RASA)}"
    return subprocess.run(["sh", "-c", probe], env=environ, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_every_rasa_process_of_make_run_has_telemetry_off_unless_asked(tmp_path):
    home = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}  # no global Rasa config
    rasa = {name: cmd for name, cmd in procfile().items()
            if "-m bot.runtime.rasa_server" in cmd or "-m actions" in cmd}
    assert set(rasa) == {"rasa", "actions"}
    for command in rasa.values():
        assert telemetry_under(command, home) == "False"
        assert telemetry_under(command, {**home, "RASA_TELEMETRY_ENABLED": "true"}) == "True"
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert "export RASA_TELEMETRY_ENABLED ?= false" in makefile  # rasa train too


def test_the_retention_job_runs_at_start_and_stays_up(tmp_path):
    assert procfile()["retention"].endswith("-m bot.privacy.retention --daily")
    env = {"PATH": "/usr/bin:/bin", "TOUCHLINE_VAR": str(tmp_path),
           "TRACKER_DB": str(tmp_path / "tracker.db"), "HOME": str(tmp_path)}
    subprocess.run([sys.executable, "-m", "bot.store.schema"], cwd=PROJECT_ROOT, env=env,
                   check=True, capture_output=True)
    job = subprocess.Popen([sys.executable, "-m", "bot.privacy.retention", "--daily"],
                           cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert job.stdout is not None
        assert job.stdout.readline().startswith("removed 0 conversations")
        assert job.poll() is None  # sleeping until tomorrow's run
    finally:
        job.terminate()
        job.wait(10)


@pytest.mark.parametrize("setup", [
    "from bot.api.app import create_app; create_app()",  # the API
    "import actions",  # the action server imports the package first
    "from bot.dialogue.tracker_store import WindowedSQLTrackerStore as S; "
    "from rasa.shared.core.domain import Domain; S(Domain.empty(), db=sys.argv[1])",  # Rasa
])
def test_every_process_redacts_its_log_records(setup, tmp_path):
    script = (f"import logging, sys; {setup}; logging.basicConfig(); "
              "logging.getLogger('any').warning('paid with %s', '4111 1111 1111 1111')")
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path / "t.db")],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert "paid with [card number]" in run.stderr and "4111" not in run.stderr
