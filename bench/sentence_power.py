"""Choose the classifier's ``sentence_score_power`` on CLINC150's validation split.

A long message's best sentence replaces the whole message when its open-set score, raised
to ``sentence_score_power``, beats the whole message's (:func:`bot.nlu.neighbours.best_reading`).
The power is chosen here, on validation data only: for one saved draw of known intents
at each ratio (``bench/data/open_intent_draws.json``; ``--draw``, the first by default),
the Touchline pipeline (``config.yml``) is trained on the known intents' training rows (all
of them, or ``--shots`` per intent; never an out-of-scope row) and tested on the validation
rows (``val`` + ``oos_val``: unknown intents and out of scope count as open), clean and as
stories (:func:`bench.open_intent.add_story`, seed 0). The power is read at parse time only,
so one trained model per cell is parsed once per power (the classifier's setting is changed
on the loaded model). No test row is read.

Run: ``.venv/bin/python -m bench.sentence_power --shots all,20,10`` (about 25 minutes on 2
cores); prints a table and writes ``bench/out/sentence_power.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

from bench.nlu import OUT, ROOT, Dataset, open_draws, parse_batch, write_nlu
from bench.open_intent import RATIOS, add_story, open_metrics
from bench.setfit_probe import validation_split

POWERS = (1.0, 1.25, 1.5, 2.0, 3.0)
"""Candidate powers: 1 (the raw best sentence) to 3."""


def set_power(agent: Any, power: float) -> None:  # noqa: ANN401 (rasa Agent)
    """Set ``sentence_score_power`` of the loaded model's ``IntentClassifier``.

    Raises:
        LookupError: the model has no ``IntentClassifier``.
    """
    from bot.nlu.classifier import IntentClassifier

    nodes = agent.processor.graph_runner._instantiated_nodes.values()
    found = [n._component for n in nodes if isinstance(n._component, IntentClassifier)]
    if not found:
        raise LookupError("the model has no IntentClassifier")
    for component in found:
        component._config["sentence_score_power"] = power


def run(config: Path, work: Path, powers: tuple[float, ...],
        shots_list: list[int | None], draw: int = 0) -> dict[str, Any]:
    """Train one model per cell (ratio x training rows per known intent, ``None`` for
    all) and score its validation rows for every power.

    Args:
        draw: which saved draw of known intents (0 to 4) each ratio uses.

    Returns:
        ``{"<ratio>% <shots>": {"<power>": {"clean": metrics, "story": metrics}}}`` with
        :func:`bench.open_intent.open_metrics` (accuracy and macro-F1 in percent).
    """
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    from bench.nlu import memoise_encoder

    memoise_encoder()
    draws = open_draws(["clinc150"], draw + 1)["clinc150"]
    report: dict[str, Any] = {}
    for shots, ratio in itertools.product(shots_list, RATIOS):
        known = draws[str(ratio)][draw]
        train, valid = validation_split("clinc150", known, shots, 0)
        assert {label for _, label in train} <= set(known)  # no unknown or oos row
        name = f"{int(ratio * 100)}% {'all' if shots is None else shots}"
        folder = work / name.replace("% ", "_")
        write_nlu(train, folder / "data", Dataset("clinc150", train, []))
        model = train_nlu(str(config), str(folder / "data"), str(folder / "models"),
                          fixed_model_name="model")
        agent = Agent.load(model)
        truth = [label for _, label in valid]
        texts = [t for t, _ in valid]
        rng = random.Random(0)
        stories = [add_story(t, rng) for t in texts]
        cell = report.setdefault(name, {})
        for power in powers:
            set_power(agent, power)
            rankings = parse_batch(agent, texts + stories)
            intents = [r[0]["name"] if r else None for r in rankings]
            cell[str(power)] = {"clean": open_metrics(truth, intents[:len(texts)]),
                                "story": open_metrics(truth, intents[len(texts):])}
            print(f"  {name} power {power}: story acc "
                  f"{cell[str(power)]['story']['accuracy']:.2f}", flush=True)
    return report


def print_table(report: dict[str, Any]) -> None:
    """Accuracy / macro-F1 per cell and power, clean and stories."""
    ratios = list(report)
    print("power | " + " | ".join(f"{r} clean | {r} story" for r in ratios)
          + " | mean story acc.")
    for power in next(iter(report.values())):
        cells = []
        for r in ratios:
            for kind in ("clean", "story"):
                m = report[r][power][kind]
                cells.append(f"{m['accuracy']:.2f} / {m['macro_f1']:.2f}")
        mean = sum(report[r][power]["story"]["accuracy"] for r in ratios) / len(ratios)
        print(f"{power} | " + " | ".join(cells) + f" | {mean:.2f}")


def main() -> None:
    """Parse arguments, run, print and write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml")
    parser.add_argument("--out", type=Path, default=OUT.parent / "sentence_power.json")
    parser.add_argument("--shots", default="all",
                        help="training rows per known intent per cell, e.g. all,20,10")
    parser.add_argument("--draw", type=int, default=0, choices=range(5),
                        help="which saved draw of known intents (0 to 4)")
    args = parser.parse_args()
    shots = [None if s == "all" else int(s) for s in args.shots.split(",")]
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    with tempfile.TemporaryDirectory(prefix="bench_power_") as tmp:
        os.environ["RASA_CACHE_DIRECTORY"] = str(Path(tmp) / "cache")
        report = run(args.config, Path(tmp), POWERS, shots, args.draw)
    print_table(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"config": str(args.config), "powers": POWERS,
                                    "draw": args.draw, "cells": report}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
