"""What a shop can act on in its own NLU data: ``python -m bot.nlu.data_report``.

Reads every Rasa NLU file under a folder (``data/nlu`` by default), featurizes the
examples once with Rasa's ``WhitespaceTokenizer`` and ``CountVectorsFeaturizer`` and
Touchline's ``SentenceEmbeddingFeaturizer`` (the word-count vocabulary is fitted on all
texts, labels unseen), and cross-validates the ``IntentClassifier`` model with the settings
of ``config.yml``'s ``IntentClassifier`` entry. It prints:

* per-intent precision, recall and F1 of the out-of-fold predictions (no rejection);
* the out-of-scope recall and in-scope accuracy the trained model's threshold is expected
  to give, estimated by the classifier's own calibration (leaving intents out when the
  data has no out-of-scope examples: :mod:`bot.nlu.oos`);
* the pairs of intents most often confused with each other, both directions counted;
* examples that look mislabelled: the out-of-fold model gives another intent at least
  ``--suspect`` probability and the labelled one less than a tenth of that.

``--json FILE`` also writes the whole report. ``rasa test nlu`` keeps working beside it.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class IntentScore:
    """Cross-validated scores of one intent (in [0, 1]) and its example count."""

    intent: str
    precision: float
    recall: float
    f1: float
    examples: int


@dataclass(frozen=True)
class Suspect:
    """An example whose out-of-fold prediction contradicts its label."""

    text: str
    labelled: str
    predicted: str
    probability: float


@dataclass(frozen=True)
class DataReport:
    """The whole report (see the module docstring)."""

    intents: list[IntentScore]
    macro_f1: float
    oos_estimate: dict[str, Any]
    confused: list[tuple[str, str, int]]
    suspects: list[Suspect]


def classifier_settings(config_file: Path) -> dict[str, Any]:
    """``IntentClassifier``'s merged settings from a Rasa config (defaults if absent)."""
    from bot.nlu.classifier import IntentClassifier

    config = yaml.safe_load(config_file.read_text()) or {}
    pipeline = config.get("pipeline", [])
    entry = next((c for c in pipeline if str(c.get("name", "")).endswith("IntentClassifier")), {})
    settings = {k: v for k, v in entry.items() if k != "name"}
    return {**IntentClassifier.get_default_config(), **settings}


def load_examples(folder: Path) -> list[tuple[str, str]]:
    """``(text, intent)`` of every intent example in the Rasa YAML files under ``folder``."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    rows = []
    for path in sorted(folder.rglob("*.yml")):
        for example in RasaYAMLReader().read(path).intent_examples:
            rows.append((str(example.get("text")), str(example.get("intent"))))
    return rows


def design(texts: list[str], settings: dict[str, Any]):  # noqa: ANN201 (bot.nlu.features.Design)
    """The classifier's design matrix of ``texts`` from real Rasa featurizers.

    Returns:
        A :class:`bot.nlu.features.Design` with ``len(texts)`` rows.
    """
    import tempfile

    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
        CountVectorsFeaturizer,
    )
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.nlu.features import BlockLayout, feature_matrix
    from bot.nlu.featurizer import SentenceEmbeddingFeaturizer

    data = TrainingData([Message(data={TEXT: t, "intent": "x"}) for t in texts])
    context = ExecutionContext(graph_schema=None, node_name="report")  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalModelStorage(Path(tmp))
        counts = CountVectorsFeaturizer.create(
            {**CountVectorsFeaturizer.get_default_config(), "alias": "words"},
            storage,
            Resource("words"),
            context,
        )
        WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process_training_data(data)
        counts.train(data)
        counts.process_training_data(data)
    SentenceEmbeddingFeaturizer(
        {**SentenceEmbeddingFeaturizer.get_default_config(), "alias": "minilm"}, "minilm"
    ).process_training_data(data)
    messages = data.training_examples
    layout = BlockLayout.from_messages(messages, ["minilm", "words"])
    return feature_matrix(
        messages, layout, float(settings["dense_weight"]), float(settings["sparse_weight"])
    )


def build_report(
    rows: list[tuple[str, str]], settings: dict[str, Any], folds: int, suspect: float
) -> DataReport:
    """Cross-validate the classifier on ``rows`` and collect what staff can act on.

    Args:
        rows: ``(text, intent)`` examples, at least two intents.
        settings: ``IntentClassifier`` settings (:func:`classifier_settings`).
        folds: cross-validation folds (fewer when an intent has fewer examples).
        suspect: probability of another intent from which an example is listed as
            possibly mislabelled, in (0, 1].

    Returns:
        The :class:`DataReport`.

    Raises:
        ValueError: fewer than two intents.
    """
    from sklearn.metrics import precision_recall_fscore_support
    from sklearn.model_selection import StratifiedKFold

    from bot.nlu.linear_model import fit_softmax, softmax
    from bot.nlu.oos import calibrate

    texts, labels = [t for t, _ in rows], np.array([i for _, i in rows], dtype=object)
    if len(set(labels)) < 2:
        raise ValueError("the data needs at least two intents")
    x = design(texts, settings)
    c, max_iter = float(settings["C"]), int(settings["max_iter"])
    k = max(2, min(folds, int(min(Counter(labels).values()))))
    predicted = np.empty(len(rows), dtype=object)
    own, best = np.zeros(len(rows)), np.zeros(len(rows))
    for train, valid in StratifiedKFold(k, shuffle=True, random_state=0).split(texts, labels):
        model = fit_softmax(x.rows(train), list(labels[train]), c, max_iter)
        p = softmax(model.logits(x.rows(valid)))
        index = {name: i for i, name in enumerate(model.classes)}
        predicted[valid] = np.array(model.classes, dtype=object)[p.argmax(axis=1)]
        best[valid] = p.max(axis=1)
        own[valid] = [p[r, index[name]] for r, name in enumerate(labels[valid])]
    names = sorted(set(labels))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=names, zero_division=0
    )
    intents = [
        IntentScore(n, float(p), float(r), float(f), int(s))
        for n, p, r, f, s in zip(names, precision, recall, f1, support)
    ]
    pairs = Counter(tuple(sorted((a, b))) for a, b in zip(labels, predicted) if a != b)
    calibration = calibrate(
        x,
        list(labels),
        set(settings["out_of_scope_intents"]),
        int(settings["cv_folds"]),
        float(settings["max_in_scope_loss"]),
        c,
        max_iter,
        int(settings["random_seed"]),
        simulated_loss=float(settings["max_in_scope_loss_simulated"]),
        expected_oos_share=settings["expected_oos_share"],
        neighbours=int(settings["neighbours"]),
        similarity_weights=tuple(float(w) for w in settings["similarity_weights"]),
    )
    flagged = np.flatnonzero((predicted != labels) & (best >= suspect) & (own < best / 10))
    suspects = sorted(
        (Suspect(texts[i], labels[i], predicted[i], round(float(best[i]), 3)) for i in flagged),
        key=lambda s: -s.probability,
    )
    return DataReport(
        intents=sorted(intents, key=lambda s: s.f1),
        macro_f1=float(np.mean(f1)),
        oos_estimate=asdict(calibration),
        confused=[(a, b, n) for (a, b), n in pairs.most_common(10)],
        suspects=suspects,
    )


def render(report: DataReport, top: int) -> str:
    """The report as plain text for a terminal (worst intents first)."""
    lines = [f"{'intent':<28}{'precision':>10}{'recall':>8}{'F1':>7}{'examples':>10}"]
    for s in report.intents:
        lines.append(
            f"{s.intent:<28}{s.precision:>10.2f}{s.recall:>8.2f}{s.f1:>7.2f}{s.examples:>10}"
        )
    lines.append(f"macro-F1 {report.macro_f1:.3f} (cross-validated, no rejection)")
    est = report.oos_estimate
    source = "intents left out" if est["simulated_oos"] else "your out-of-scope examples"
    lines.append(
        f"\nout of scope (estimated from {source}): recall {est['cv_oos_recall']:.0%} at "
        f"{est['cv_in_scope_accuracy']:.0%} in-scope accuracy (threshold {est['threshold']:.3f})"
    )
    lines.append("\nmost confused intents (both directions):")
    lines += [f"  {a} <-> {b}: {n}" for a, b, n in report.confused] or ["  none"]
    lines.append(f"\nexamples that look mislabelled ({len(report.suspects)}):")
    lines += [
        f"  [{s.labelled} -> {s.predicted} {s.probability:.2f}] {s.text}"
        for s in report.suspects[:top]
    ] or ["  none"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m bot.nlu.data_report [DATA] [--config ...] [--json FILE]``."""
    parser = argparse.ArgumentParser(description="What to fix in your NLU data")
    parser.add_argument("data", nargs="?", type=Path, default=ROOT / "data" / "nlu")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--suspect", type=float, default=0.7)
    parser.add_argument("--top", type=int, default=25, help="suspects printed")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    rows = load_examples(args.data)
    report = build_report(rows, classifier_settings(args.config), args.folds, args.suspect)
    print(render(report, args.top))
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=1))


if __name__ == "__main__":
    main()
