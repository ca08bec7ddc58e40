"""Train and compare: retrain the bot with the staff's new examples, measure every intent
before and after on the same held-out messages, and deploy only a model that made no
intent worse.

A :class:`RetrainRun` runs in a background thread, one step after another, each step's
state readable while it runs (the page polls it):

1. ``evaluate current``: ``rasa test nlu`` of the model in service on the held-out file;
2. ``train``: ``rasa train`` of the project (config, domain, ``data/`` with the review
   files) into a new model file;
3. ``evaluate new``: the same test of the new model;
4. ``compare``: per-intent F1 before and after (Rasa's ``intent_report.json``) and the
   held-out messages whose predicted intent changed (``intent_successes.json`` +
   ``intent_errors.json``).

:func:`deploy` loads the new model into each Rasa server (``PUT /model``) only when no
intent's F1 dropped by more than :data:`MARGIN`; it returns the model it replaced, which
stays on disk, so :func:`load_model` of that file rolls back.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MARGIN = 0.02
"""Largest F1 drop of any intent that still allows deploying (2 points: a one-message
change on a held-out intent of 50 messages, the size of ``tests/data/nlu_heldout.yml``'s
intents, moves F1 by about that much)."""
STEPS = ("evaluate current", "train", "evaluate new", "compare")
RASA = str(Path(sys.executable).with_name("rasa"))
"""The ``rasa`` command of this environment."""


@dataclass(frozen=True)
class IntentChange:
    """One intent's F1 (0-1) before and after; ``None`` where the intent was not tested."""

    intent: str
    before: float | None
    after: float | None

    @property
    def delta(self) -> float:
        """``after - before`` (a missing side counts as 0)."""
        return (self.after or 0.0) - (self.before or 0.0)


@dataclass(frozen=True)
class Comparison:
    """What retraining changed on the held-out messages.

    Attributes:
        intents: every intent of either report, worst change first.
        changed: ``{"text", "intent", "before", "after"}`` per message whose prediction changed.
        worse: intents whose F1 dropped by more than the margin.
    """

    intents: list[IntentChange]
    changed: list[dict[str, str]]
    worse: list[str]

    @property
    def deployable(self) -> bool:
        """Whether no intent got worse than the margin."""
        return not self.worse


def intent_f1(results: Path) -> dict[str, float]:
    """Per-intent F1 from a ``rasa test nlu`` output folder (averages left out)."""
    report = json.loads((results / "intent_report.json").read_text(encoding="utf-8"))
    return {k: float(v["f1-score"]) for k, v in report.items()
            if isinstance(v, dict) and "support" in v and not k.endswith(" avg")}


def predictions(results: Path) -> dict[str, tuple[str, str]]:
    """``text -> (labelled intent, predicted intent)`` of every tested message."""
    found: dict[str, tuple[str, str]] = {}
    for name in ("intent_successes.json", "intent_errors.json"):
        path = results / name
        for row in json.loads(path.read_text(encoding="utf-8")) if path.exists() else []:
            found[row["text"]] = (row["intent"], (row.get("intent_prediction") or {}).get(
                "name") or "")
    return found


def compare(before: Path, after: Path, margin: float = MARGIN) -> Comparison:
    """Compare two ``rasa test nlu`` output folders of the same test file.

    Args:
        before: results of the model in service.
        after: results of the new model.
        margin: allowed F1 drop per intent (0-1).
    """
    f1_before, f1_after = intent_f1(before), intent_f1(after)
    intents = [IntentChange(i, f1_before.get(i), f1_after.get(i))
               for i in sorted(set(f1_before) | set(f1_after))]
    intents.sort(key=lambda c: (c.delta, c.intent))
    worse = [c.intent for c in intents if c.before is not None and c.delta < -margin]
    old, new = predictions(before), predictions(after)
    changed = [{"text": t, "intent": new[t][0], "before": old[t][1], "after": new[t][1]}
               for t in sorted(set(old) & set(new)) if old[t][1] != new[t][1]]
    return Comparison(intents, changed, worse)


@dataclass
class RetrainRun:
    """One train-and-compare run (see the module docstring).

    Attributes:
        root: the project to train (``config.yml``, ``domain.yml``, ``data/``).
        current_model: the model in service (a ``.tar.gz``).
        test_file: held-out NLU data both models are tested on.
        models: folder the new model is written to.
    """

    root: Path
    current_model: Path
    test_file: Path
    models: Path
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    steps: dict[str, str] = field(default_factory=lambda: dict.fromkeys(STEPS, "waiting"))
    status: str = "waiting"  # waiting | running | done | failed
    error: str = ""
    new_model: Path | None = None
    comparison: Comparison | None = None
    started_at: float = 0.0

    def start(self) -> threading.Thread:
        """Run the steps in a daemon thread; returns it (tests join it)."""
        self.status, self.started_at = "running", time.time()
        thread = threading.Thread(target=self._run, name=f"retrain-{self.id}", daemon=True)
        thread.start()
        return thread

    def _step(self, name: str, args: list[str]) -> None:
        self.steps[name] = "running"
        # the environment is inherited: `make run` exports RASA_TELEMETRY_ENABLED=false
        done = subprocess.run(args, cwd=self.root, capture_output=True, text=True)
        if done.returncode != 0:
            self.steps[name] = "failed"
            raise RuntimeError(f"{name} failed: {(done.stderr or done.stdout)[-1500:]}")
        self.steps[name] = "done"

    def _test(self, name: str, model: Path, out: Path) -> None:
        self._step(name, [RASA, "test", "nlu", "--model", str(model), "--nlu",
                          str(self.test_file), "--out", str(out), "--successes"])

    def _run(self) -> None:
        try:
            with tempfile.TemporaryDirectory(prefix="touchline-retrain-") as work:
                before, after = Path(work) / "before", Path(work) / "after"
                self._test("evaluate current", self.current_model, before)
                self.models.mkdir(parents=True, exist_ok=True)
                name = f"staff-{time.strftime('%Y%m%d-%H%M%S')}-{self.id[:6]}"
                self._step("train", [RASA, "train", "--config", "config.yml", "--domain",
                                     "domain.yml", "--data", "data", "--out",
                                     str(self.models), "--fixed-model-name", name])
                self.new_model = self.models / f"{name}.tar.gz"
                self._test("evaluate new", self.new_model, after)
                self.steps["compare"] = "running"
                self.comparison = compare(before, after)
                self.steps["compare"] = "done"
            self.status = "done"
        except Exception as error:  # reported on the page, the thread ends
            self.status, self.error = "failed", str(error)

    def as_dict(self) -> dict[str, Any]:
        """The run as JSON for the page."""
        comparison = self.comparison
        return {
            "id": self.id, "status": self.status, "error": self.error,
            "steps": [{"name": k, "state": v} for k, v in self.steps.items()],
            "new_model": self.new_model.name if self.new_model else None,
            "margin": MARGIN,
            "deployable": bool(comparison and comparison.deployable),
            "intents": [{"intent": c.intent, "before": c.before, "after": c.after,
                         "delta": c.delta} for c in comparison.intents] if comparison else [],
            "changed": comparison.changed if comparison else [],
            "worse": comparison.worse if comparison else [],
        }


def latest_model(models: Path) -> Path | None:
    """The newest ``.tar.gz`` in ``models`` (what ``rasa run`` loads), ``None`` if none."""
    found = sorted(models.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def _put_model(url: str, model: Path, token: str | None) -> None:
    """``PUT <url>/model`` with ``model``'s path; raises ``httpx.HTTPError`` on failure."""
    import httpx

    response = httpx.put(f"{url.rstrip('/')}/model", json={"model_file": str(model)},
                         params={"token": token} if token else None, timeout=300)
    response.raise_for_status()


def load_model(rasa_urls: list[str], model: Path, token: str | None = None,
               restore: Path | None = None) -> None:
    """Load ``model`` into every Rasa server, one at a time (``PUT /model``; the servers
    read the file, so it must be on a disk they all see).

    Args:
        rasa_urls: the servers' base URLs, in the order they are switched.
        model: the ``.tar.gz`` to load.
        token: Rasa's ``--auth-token``, if set.
        restore: the model to put back on the servers already switched when one fails
            (``None``: leave them); a server that also refuses that is logged.

    Raises:
        httpx.HTTPError: the first server that refused or could not be reached; the
            servers after it were not touched.
    """
    import httpx

    switched: list[str] = []
    for url in rasa_urls:
        try:
            _put_model(url, model, token)
        except httpx.HTTPError:
            if restore is not None:
                for done in switched:
                    try:
                        _put_model(done, restore, token)
                    except httpx.HTTPError as error:
                        log.error("rollback of %s to %s failed: %s", done, restore, error)
            raise
        switched.append(url)


def deploy(run: RetrainRun, rasa_urls: list[str], token: str | None = None) -> Path:
    """Load the run's new model everywhere, if it made no intent worse.

    Returns:
        The model it replaced (kept on disk, for :func:`load_model` to roll back to).

    Raises:
        ValueError: the run is not done, or some intent got worse than :data:`MARGIN`.
        httpx.HTTPError: a server refused the model (the servers switched before it
            are back on the run's current model).
    """
    if run.status != "done" or run.comparison is None or run.new_model is None:
        raise ValueError("the run has not finished")
    if not run.comparison.deployable:
        raise ValueError(f"worse than the margin: {', '.join(run.comparison.worse)}")
    load_model(rasa_urls, run.new_model, token, restore=run.current_model)
    return run.current_model
