"""New-intent discovery on CLINC150 (:mod:`bot.staff.discover`) against published results.

Usage: ``.venv/bin/python -m bench.discover [--draws 5]``

Two settings, both on CLINC150's 4,500 in-scope test rows (nothing is trained: the sentence
encoder is the pretrained all-MiniLM-L6-v2 and clustering is unsupervised):

* ``unanswered``: the open-intent split of the NLU benchmark (``bench/open_intent.py``,
  known-intent ratio 75%, the draws saved in ``bench/data/open_intent_draws.json``): the
  test rows of the 25% held-out intents (38 intents, about 1,140 messages) are the stream
  of messages the bot could not answer, as the staff page clusters them.
* ``all150``: every in-scope test row (150 intents), the evaluation set of DeepAligned
  (Zhang, Xu, Lin and Lv, "Discovering New Intents with Deep Aligned Clustering", AAAI
  2021), so its published figures can be set beside ours.

Methods, in the same run: Touchline (MiniLM + Ward, the tree cut at the height that best
groups the draw's known intents' *validation* rows, :func:`bot.staff.discover.calibrate_threshold`;
the number of clusters is not told), the same with the true number of clusters, and two
baselines told the true number: k-means on the same embeddings (scikit-learn, 10
restarts) and TF-IDF + Ward (lexical features only). Metrics: NMI, ARI and clustering
accuracy (ACC, Hungarian matching of clusters to intents), in percent, mean over draws.
Writes ``bench/data/discover_clinc150.json``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bot.staff.discover import calibrate_threshold, cluster_labels, minilm_embedder, normalise

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
DRAWS = ROOT / "bench" / "data" / "open_intent_draws.json"
OUT = ROOT / "bench" / "data" / "discover_clinc150.json"
PUBLISHED = {
    "DeepAligned": (93.89, 79.75, 86.49),
    "KM": (70.89, 26.86, 45.06),
    "AG": (73.07, 27.70, 44.03),
    "BERT-DTC": (90.54, 65.02, 74.15),
}
"""NMI, ARI, ACC (percent) on CLINC, main table of Zhang et al. AAAI 2021 (README of
github.com/thuiar/DeepAligned-Clustering, "Main experiments"): all 4,500 test rows of the
150 intents, K = 150, known-intent ratio 75% with 10% of the known intents' training rows
labelled (``labeled_ratio`` 0.1), BERT-base fine-tuned, mean of 10 seeds. KM and AG are
the table's unsupervised k-means and agglomerative baselines; DeepAligned and BERT-DTC use
the labelled rows."""


def clustering_scores(truth: list[str], labels: np.ndarray) -> dict[str, float]:
    """NMI, ARI and Hungarian-matched accuracy in percent (``k`` = clusters found)."""
    from scipy.optimize import linear_sum_assignment
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    names = sorted(set(truth))
    t = np.array([names.index(x) for x in truth])
    size = max(len(names), int(labels.max()) + 1)
    table = np.zeros((size, size), dtype=np.int64)
    np.add.at(table, (labels, t), 1)
    rows, cols = linear_sum_assignment(-table)
    return {
        "nmi": 100 * float(normalized_mutual_info_score(t, labels)),
        "ari": 100 * float(adjusted_rand_score(t, labels)),
        "acc": 100 * float(table[rows, cols].sum() / len(t)),
        "k": int(len(set(labels.tolist()))),
    }


def kmeans(vectors: np.ndarray, k: int) -> np.ndarray:
    """k-means labels on normalised vectors (seeded, 10 restarts)."""
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(normalise(vectors))


def tfidf_ward(texts: list[str], k: int) -> np.ndarray:
    """Ward clusters of TF-IDF rows (word unigrams and bigrams, English stop words)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    rows = TfidfVectorizer(ngram_range=(1, 2), stop_words="english").fit_transform(texts)
    return cluster_labels(rows.toarray(), k)


def methods(texts: list[str], vectors: np.ndarray, k: int, threshold: float
            ) -> dict[str, Callable[[], np.ndarray]]:
    """The compared methods on one message set, each a thunk giving labels."""
    return {
        "touchline (calibrated cut, k not told)": lambda: cluster_labels(vectors,
                                                                         threshold=threshold),
        "touchline, true k": lambda: cluster_labels(vectors, k),
        "baseline k-means, true k": lambda: kmeans(vectors, k),
        "baseline tf-idf + ward, true k": lambda: tfidf_ward(texts, k),
    }


def evaluate(texts: list[str], truth: list[str], vectors: np.ndarray, threshold: float
             ) -> dict[str, dict]:
    """Scores of every method on one message set."""
    k = len(set(truth))
    return {name: clustering_scores(truth, run()) for name, run in
            methods(texts, vectors, k, threshold).items()}


def mean_scores(runs: list[dict[str, dict]]) -> dict[str, dict[str, float]]:
    """Per method, the mean (and for NMI the standard deviation) over runs."""
    out = {}
    for name in runs[0]:
        values = {m: [r[name][m] for r in runs] for m in ("nmi", "ari", "acc", "k")}
        out[name] = {m: float(np.mean(v)) for m, v in values.items()}
        out[name]["nmi_sd"] = float(np.std(values["nmi"]))
    return out


def main() -> int:
    """Run both settings, print the table, write the JSON; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=5, help="known-intent draws (max 5)")
    args = parser.parse_args()
    data = json.loads((SHARED / "clinc150" / "data_full.json").read_text())
    texts = [t for t, _ in data["test"]]
    truth = [i for _, i in data["test"]]
    embed = minilm_embedder()
    vectors = embed(texts)
    val_vectors = embed([t for t, _ in data["val"]])
    val_truth = [i for _, i in data["val"]]
    draws = json.loads(DRAWS.read_text())["clinc150"]["0.75"][: args.draws]
    unanswered, everything, thresholds = [], [], []
    for known in draws:
        rows = [i for i, intent in enumerate(val_truth) if intent in set(known)]
        threshold = calibrate_threshold(val_vectors[rows], [val_truth[i] for i in rows])
        keep = [i for i, intent in enumerate(truth) if intent not in set(known)]
        unanswered.append(evaluate([texts[i] for i in keep], [truth[i] for i in keep],
                                   vectors[keep], threshold))
        everything.append(evaluate(texts, truth, vectors, threshold))
        thresholds.append(threshold)
    results = {
        "thresholds": thresholds,
        "unanswered": {"messages_per_draw": int(np.mean([len(set(truth)) - len(d)
                                                         for d in draws])) * 30,
                       "draws": len(draws), "methods": mean_scores(unanswered)},
        "all150": {"messages": len(texts), "draws": len(draws),
                   "methods": mean_scores(everything)},
        "published_all150": {k: dict(zip(("nmi", "ari", "acc"), v))
                             for k, v in PUBLISHED.items()},
    }
    print(f"cut heights per draw: {thresholds}")
    print(f"{'setting':<11} {'method':<40} {'NMI':>6} {'ARI':>6} {'ACC':>6} {'k':>5}")
    for setting in ("unanswered", "all150"):
        for name, s in results[setting]["methods"].items():
            print(f"{setting:<11} {name:<40} {s['nmi']:6.2f} {s['ari']:6.2f} {s['acc']:6.2f}"
                  f" {s['k']:5.0f}")
    for name, (nmi, ari, acc) in PUBLISHED.items():
        print(f"{'all150':<11} {'published ' + name:<40} {nmi:6.2f} {ari:6.2f} {acc:6.2f}"
              f" {150:5d}")
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
