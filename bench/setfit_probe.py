"""Does SetFit-style encoder adaptation help the few-shot open-intent cells? (issue #12)

SetFit (Tunstall et al. 2022, "Efficient Few-Shot Learning Without Prompts") fine-tunes
the sentence encoder contrastively on pairs drawn from the few training examples, then
fits the usual classifier head; :mod:`bot.nlu.adaptation` does it within ``rasa train``'s
budget (top layers only, multiple-negatives ranking loss, time-capped).

Everything is measured on **validation** data only; no test split is read:

* CLINC150: few-shot rows of the known intents from ``train``; evaluated on ``val`` (20 rows
  per intent) and ``oos_val`` (100), unknown intents' rows and ``oos`` counting as open.
* BANKING77 (no validation split): evaluated on up to 20 training rows per intent that were
  not sampled as shots (seeded), unknown intents' rows counting as open.

The classifier is Touchline's (``bot.nlu.linear_model``, ``bot.nlu.oos.calibrate``, the
similarity score of ``bot.nlu.neighbours``) on the sentence embedding plus word counts
(scikit-learn's ``CountVectorizer`` standing in for Rasa's), ``sparse_weight`` 0.5 and
``expected_oos_share`` 0.5 as in ``config.yml``. Variants per cell (first draw of
``bench/data/open_intent_draws.json``):

* ``frozen``: the shipped encoder.
* ``adapted_biased``: adapted encoder, threshold cross-validated on its features; the
  encoder saw every fold's rows and intents, so the threshold is biased.
* ``adapted_folds``: adapted encoder; the threshold's cross-validation adapts a copy of
  the encoder inside each fold on that fold's training rows only
  (``calibrate(fold_design=...)``), 2 x ``cv_folds`` extra adaptations.

Run: ``PYTHONPATH=. .venv/bin/python -m bench.setfit_probe`` (``--help`` for the cells and
the adaptation's settings); JSON to ``bench/data/setfit_probe.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import time
from pathlib import Path

import numpy as np
import scipy.sparse

from bench.open_intent import OPEN, open_ceiling, open_metrics, open_split
from bot.nlu.adaptation import AdaptSettings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DRAWS = ROOT / "bench" / "data" / "open_intent_draws.json"
OUT = ROOT / "bench" / "data" / "setfit_probe.json"
VALIDATION_PER_INTENT = 20
"""BANKING77 validation rows per intent (CLINC150's validation split has 20)."""
SPARSE_WEIGHT = 0.5
"""``sparse_weight`` of the classifier in ``config.yml``."""


def validation_split(
    name: str, known: list[str], shots: int, seed: int
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Few-shot training rows of ``known`` and the labelled validation rows (see module)."""
    if name == "clinc150":
        data = json.loads((SHARED / "clinc150" / "data_full.json").read_text())
        train = [tuple(r) for r in data["train"]]
        valid = [tuple(r) for r in data["val"] + data["oos_val"]]
        split = open_split(train, valid, known, shots, seed, {"oos"})
        return split.train, split.test
    with (SHARED / "banking77" / "train.csv").open() as f:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(f)]
    split = open_split(rows, [], known, shots, seed, set())
    used = set(split.train)
    rng = random.Random(seed)
    by_intent: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        if row not in used:
            by_intent.setdefault(row[1], []).append(row)
    valid = []
    for intent in sorted(by_intent):
        items = by_intent[intent][:]
        rng.shuffle(items)
        valid += [(t, i if i in split.known else OPEN) for t, i in items[:VALIDATION_PER_INTENT]]
    return split.train, valid


class TopEncoder:
    """The packaged MiniLM with its lower layers' states cached (:mod:`bot.nlu.adaptation`)."""

    def __init__(self, settings: AdaptSettings) -> None:
        """Load the model; ``settings.top_layers`` of its layers are adapted."""
        from bot.nlu.adaptation import split_index
        from bot.nlu.embedding_model import default_model_path, load_model

        self.model = load_model(default_model_path(), 1)
        self.settings = settings
        self.frozen_top = self.model[0].auto_model.encoder.layer[
            split_index(self.model, settings.top_layers) :
        ]

    def lower(self, texts: list[str]) -> list:
        """:func:`bot.nlu.adaptation.lower_states` of ``texts``."""
        from bot.nlu.adaptation import lower_states

        return lower_states(self.model, texts, self.settings.top_layers)

    def embed(self, layers, states: list) -> np.ndarray:  # noqa: ANN001
        """:func:`bot.nlu.adaptation.embed_states`."""
        from bot.nlu.adaptation import embed_states

        return embed_states(self.model, layers, states)

    def adapt(self, states: list, labels: list[str]):  # noqa: ANN201
        """:func:`bot.nlu.adaptation.adapt_top_layers` (the frozen layers when it gives none)."""
        from bot.nlu.adaptation import adapt_top_layers

        return adapt_top_layers(self.model, states, labels, self.settings) or self.frozen_top


def design(dense: np.ndarray, sparse: scipy.sparse.csr_matrix):  # noqa: ANN201
    """The classifier's design matrix: unit dense rows, sparse rows of norm SPARSE_WEIGHT."""
    from bot.nlu.features import Design
    from bot.nlu.neighbours import unit_rows

    norms = np.sqrt(np.asarray(sparse.multiply(sparse).sum(axis=1))).reshape(-1)
    scale = np.where(norms > 0, SPARSE_WEIGHT / np.where(norms > 0, norms, 1), 0)
    return Design(dense=unit_rows(dense),
                  sparse=scipy.sparse.csr_matrix(scipy.sparse.diags(scale) @ sparse,
                                                 dtype=np.float32))


def classify(x_train, labels: list[str], x_test, fold_design=None) -> dict:  # noqa: ANN001
    """Fit and calibrate Touchline's classifier; predictions and scores of ``x_test``."""
    from bot.nlu.linear_model import fit_softmax, softmax
    from bot.nlu.neighbours import nearest_similarity, open_set_score
    from bot.nlu.oos import calibrate

    cal = calibrate(x_train, labels, set(), 3, 0.005, 10.0, 100, 0, simulated_loss=0.002,
                    expected_oos_share=0.5, neighbours=5,
                    similarity_weights=(0.0, 1.0, 2.0, 4.0, 8.0), fold_design=fold_design)
    model = fit_softmax(x_train, labels, 10.0, 100)
    p = softmax(model.logits(x_test), cal.temperature)
    predicted = np.array(model.classes)[p.argmax(axis=1)]
    sim = nearest_similarity(x_train.dense, np.array(labels), x_test.dense, predicted, 5)
    score = open_set_score(p.max(axis=1), sim, cal.similarity_weight)
    return {
        "predicted": [str(c) if s >= cal.threshold else OPEN for c, s in zip(predicted, score)],
        "best": [(str(c), float(s), False) for c, s in zip(predicted, score)],
        "similarity_weight": cal.similarity_weight,
        "threshold": cal.threshold,
        "cv_in_scope_accuracy": cal.cv_in_scope_accuracy,
        "cv_oos_recall": cal.cv_oos_recall,
    }


def run_cell(enc: TopEncoder, name: str, known: list[str], shots: int, args) -> dict:  # noqa: ANN001
    """Every variant of one cell (see module)."""
    from sklearn.feature_extraction.text import CountVectorizer

    train, valid = validation_split(name, known, shots, 0)
    texts, labels = [t for t, _ in train], [i for _, i in train]
    truth = [label for _, label in valid]
    words = CountVectorizer(lowercase=True, token_pattern=r"(?u)\b\w+\b").fit(texts)
    s_train = words.transform(texts).astype(np.float32)
    s_valid = words.transform([t for t, _ in valid]).astype(np.float32)
    states_train, states_valid = enc.lower(texts), enc.lower([t for t, _ in valid])
    out: dict = {"n_train": len(train), "n_valid": len(valid), "n_intents": len(set(labels))}

    def record(key: str, result: dict, extra: dict) -> None:
        metrics = open_metrics(truth, result.pop("predicted"))
        ceiling = open_ceiling(truth, result.pop("best"))
        out[key] = {**metrics, "ceiling": ceiling, **result, **extra}
        print(f"  {name} {len(set(labels))} x {shots}: {key:15s} acc {metrics['accuracy']:.2f}"
              f" F1 {metrics['macro_f1']:.2f} known {metrics['known_accuracy']:.1f}"
              f" open {metrics['open_recall']:.1f} | ceiling {ceiling['max_accuracy']:.2f}"
              f" no-thr {ceiling['no_threshold_accuracy']:.2f} | {extra}", flush=True)

    start = time.monotonic()
    x_train = design(enc.embed(enc.frozen_top, states_train), s_train)
    x_valid = design(enc.embed(enc.frozen_top, states_valid), s_valid)
    record("frozen", classify(x_train, labels, x_valid), {"train_s": time.monotonic() - start})

    def adapted(mask: np.ndarray | None):  # noqa: ANN202
        rows = np.arange(len(labels)) if mask is None else np.flatnonzero(mask)
        return enc.adapt([states_train[i] for i in rows], [labels[i] for i in rows])

    start = time.monotonic()
    layers = adapted(None)
    adapt_s = time.monotonic() - start
    a_train = design(enc.embed(layers, states_train), s_train)
    a_valid = design(enc.embed(layers, states_valid), s_valid)
    record("adapted_biased", classify(a_train, labels, a_valid), {"adapt_s": adapt_s})
    if args.folds:
        start = time.monotonic()

        def fold_design(mask: np.ndarray):  # noqa: ANN202
            return design(enc.embed(adapted(mask), states_train), s_train)

        record("adapted_folds", classify(a_train, labels, a_valid, fold_design),
               {"calibrate_s": time.monotonic() - start, "adapt_s": adapt_s})
    return out


def main() -> None:
    """Run the probe's cells and write the JSON report."""
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="clinc150,banking77")
    parser.add_argument("--ratios", default="0.25,0.5,0.75")
    parser.add_argument("--shots", default="10,20")
    parser.add_argument("--top-layers", type=int, default=2)
    parser.add_argument("--epochs", type=float, default=4.0,
                        help="anchors per training example (steps = epochs * n / batch)")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch", type=int, default=32, help="intents per step")
    parser.add_argument("--cap", type=float, default=20.0, help="seconds per adaptation")
    parser.add_argument("--no-folds", dest="folds", action="store_false",
                        help="skip the in-fold adaptation of the threshold's cross-validation")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    draws = json.loads(DRAWS.read_text())
    enc = TopEncoder(AdaptSettings(args.top_layers, args.epochs, args.lr, args.batch, args.cap))
    report: dict = {"settings": {k: str(v) for k, v in vars(args).items()}, "cells": {}}
    for name in args.datasets.split(","):
        for shots in [int(s) for s in args.shots.split(",")]:
            for ratio in args.ratios.split(","):
                known = draws[name][str(float(ratio))][0]
                cell = f"{name} {int(float(ratio) * 100)}% {shots}"
                report["cells"][cell] = run_cell(enc, name, known, shots, args)
                args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
