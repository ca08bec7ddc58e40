"""Open intent classification protocol and text noise for ``bench/nlu.py``.

Protocol of Zhang, Xu and Lin, "Deep Open Intent Classification with Adaptive Decision
Boundary" (AAAI 2021, github.com/thuiar/Adaptive-Decision-Boundary): a share of the
intents (the known-intent ratio) is drawn at random; the classifier is trained on the
known intents' training rows only (never an out-of-scope row) and tested on the whole test
set, every unknown intent's rows and every out-of-scope row counting as the class
``open``. Accuracy and macro-F1 are over the known intents plus ``open``. CLINC150 uses
ADB's ``oos`` split: the 15,000 in-scope training rows, and as test the 4,500 in-scope
test rows plus all 1,200 out-of-scope rows of the release (train, validation and test).

Few examples: the same draws with at most ``shots`` training rows per known intent.
Noise: each test message with seeded typos (:func:`add_typos`), lower-cased without
punctuation (:func:`flatten`), and told inside a short story (:func:`add_story`).
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

import numpy as np

OPEN = "open"
"""Label of every unknown-intent and out-of-scope test row."""
RATIOS = (0.25, 0.5, 0.75)
"""Known-intent ratios of the ADB paper."""
PUBLISHED_ADB = {
    "banking77": {0.25: (78.85, 71.62), 0.5: (78.86, 80.90), 0.75: (81.08, 85.96)},
    "clinc150": {0.25: (87.59, 77.19), 0.5: (86.54, 85.05), 0.75: (86.32, 88.53)},
}
"""ADB (fine-tuned BERT-base) accuracy and macro-F1 in percent, Table 2 of Zhang et al."""
TYPO_RATE = 0.2
"""Share of words of three letters or more that get one typo in :func:`add_typos`."""

STORY = (
    "I have been a customer of yours for a few years now.",
    "Sorry if this is the wrong place to ask.",
    "I tried to sort this out myself last night but got nowhere.",
    "My daughter usually helps me with these things but she is away this week.",
    "I am writing from my phone so please excuse any mistakes.",
    "This is the second time I am writing about this.",
    "I was on the train to work this morning when I noticed.",
    "I really do not have much time today.",
    "Honestly I am a bit frustrated at this point.",
    "A friend of mine told me to contact you directly.",
    "I looked through the help pages first but could not find anything.",
    "It has been a long week and this is the last thing I needed.",
    "I am not very good with technology, so bear with me.",
    "My husband and I were talking about it over dinner.",
    "I only have a few minutes before my next meeting.",
    "Everything else has been fine so far.",
)
"""Context sentences of :func:`add_story`, written once for this benchmark (before any
measurement) to carry no request of their own: no greeting, thanks or question, since
CLINC150 has intents for those, and no topic of either data set."""


@dataclass(frozen=True)
class OpenSplit:
    """One draw of the protocol.

    Attributes:
        known: the known intents.
        train: ``(text, intent)`` rows of known intents only.
        test: ``(text, label)`` rows, ``label`` an known intent or :data:`OPEN`.
    """

    known: tuple[str, ...]
    train: list[tuple[str, str]]
    test: list[tuple[str, str]]


def draw_known(intents: list[str], ratio: float, draws: int, seed: int) -> list[list[str]]:
    """``draws`` seeded random sets of ``round(ratio * len(intents))`` known intents.

    Args:
        intents: every in-scope intent (out-of-scope labels excluded).
        ratio: known-intent ratio in (0, 1].
        draws: how many sets.
        seed: seed of the first draw; draw ``i`` uses ``seed + i``.

    Returns:
        Sorted intent lists, one per draw.
    """
    names = sorted(intents)
    size = max(1, round(ratio * len(names)))
    return [sorted(random.Random(seed + i).sample(names, size)) for i in range(draws)]


def open_split(
    train: list[tuple[str, str]],
    test: list[tuple[str, str]],
    known: list[str],
    shots: int | None,
    seed: int,
    oos_labels: set[str],
) -> OpenSplit:
    """Training and test rows of one draw.

    Args:
        train: the data set's training rows (out-of-scope rows are dropped).
        test: the data set's test rows, out-of-scope rows included.
        known: the known intents.
        shots: at most this many training rows per known intent (seeded sample); ``None``
            for all.
        seed: seed of the sample.
        oos_labels: labels of out-of-scope rows.

    Returns:
        The :class:`OpenSplit`; its training rows all have known intents.
    """
    keep = set(known) - oos_labels
    by_intent: dict[str, list[tuple[str, str]]] = {}
    for row in train:
        if row[1] in keep:
            by_intent.setdefault(row[1], []).append(row)
    rng = random.Random(seed)
    rows: list[tuple[str, str]] = []
    for intent in sorted(by_intent):
        items = by_intent[intent][:]
        if shots is not None:
            rng.shuffle(items)
            items = items[:shots]
        rows += items
    labelled = [(text, label if label in keep else OPEN) for text, label in test]
    return OpenSplit(known=tuple(sorted(keep)), train=rows, test=labelled)


def open_metrics(truth: list[str], predicted: list[str]) -> dict[str, float]:
    """Accuracy, macro-F1 (known intents + open), in-scope accuracy and open recall.

    Args:
        truth: a known intent or :data:`OPEN` per row.
        predicted: a known intent, or anything else (fallback, out of scope), which
            counts as :data:`OPEN`.

    Returns:
        ``accuracy``, ``macro_f1``, ``known_accuracy``, ``open_recall``, in percent.
    """
    from sklearn.metrics import f1_score

    known = set(truth) - {OPEN}
    t = np.array(truth)
    p = np.array([label if label in known else OPEN for label in predicted])
    is_open = t == OPEN
    labels = sorted(known) + [OPEN]
    return {
        "accuracy": 100 * float(np.mean(p == t)),
        "macro_f1": 100 * float(f1_score(t, p, labels=labels, average="macro")),
        "known_accuracy": 100 * float(np.mean(p[~is_open] == t[~is_open])),
        "open_recall": 100 * float(np.mean(p[is_open] == OPEN)) if is_open.any() else 0.0,
    }


def open_ceiling(
    truth: list[str], best: list[tuple[str | None, float, bool]], grid: int = 200
) -> dict[str, float]:
    """Best accuracy and best macro-F1 any single threshold on the confidence could give.

    A diagnostic bound, as the CLINC150 ceiling of the full-data rows (``bench.nlu.ceiling``):
    the threshold is read from the test labels, so nothing is chosen from it. Each row is
    predicted as its top in-scope intent when that intent's calibrated probability is at
    least ``t`` (and no out-of-scope intent ranked first), else as open; ``t`` runs over 0
    and ``grid`` + 1 quantiles of the confidences.

    Args:
        truth: a known intent or :data:`OPEN` per row.
        best: ``bench.nlu.best_in_scope`` of each row: (intent, confidence, oos first).
        grid: number of quantile steps.

    Returns:
        ``max_accuracy`` and ``max_macro_f1`` in percent (each at its own threshold) and
        ``no_threshold_accuracy`` / ``no_threshold_macro_f1`` (every row answered).
    """
    conf = np.array([c for _, c, _ in best])
    thresholds = np.unique(np.concatenate([[0.0], np.quantile(conf, np.linspace(0, 1, grid + 1))]))
    scored = [
        open_metrics(
            truth,
            [
                name if name is not None and not oos and c >= t else OPEN
                for name, c, oos in best
            ],
        )
        for t in thresholds
    ]
    return {
        "max_accuracy": max(m["accuracy"] for m in scored),
        "max_macro_f1": max(m["macro_f1"] for m in scored),
        "no_threshold_accuracy": scored[0]["accuracy"],
        "no_threshold_macro_f1": scored[0]["macro_f1"],
    }


def add_typos(text: str, rng: random.Random, rate: float = TYPO_RATE) -> str:
    """``text`` with one typo in a share ``rate`` of its words of three letters or more.

    A typo is a deleted letter, two neighbouring letters swapped, or a doubled letter
    (equally likely), the kinds of the issue; the position is uniform over the word.

    Args:
        text: any message.
        rng: the seeded generator (one per data set, so the noisy set is fixed).
        rate: share of eligible words that get a typo, in [0, 1].

    Returns:
        The noisy text (same words otherwise, same spacing).
    """
    words = text.split(" ")
    for i, word in enumerate(words):
        if sum(ch.isalpha() for ch in word) < 3 or rng.random() >= rate:
            continue
        j = rng.randrange(len(word) - 1)
        kind = rng.randrange(3)
        if kind == 0:
            word = word[:j] + word[j + 1 :]
        elif kind == 1:
            word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
        else:
            word = word[: j + 1] + word[j] + word[j + 1 :]
        words[i] = word
    return " ".join(words)


def add_story(text: str, rng: random.Random) -> str:
    """``text`` told inside a story: one or two :data:`STORY` sentences before it and, half
    of the time, one after it (all distinct).

    Args:
        text: the test message (the request; its label stays the same).
        rng: seeded source of the choices.

    Returns:
        The message with the context, sentences joined by single spaces; ``text`` gets a
        full stop if it ends without ``.``, ``!`` or ``?``.
    """
    before = rng.randint(1, 2)
    after = rng.random() < 0.5
    context = rng.sample(STORY, before + after)
    request = text.strip() if text.strip()[-1:] in ".!?" else f"{text.strip()}."
    return " ".join([*context[:before], request, *context[before:]])


def flatten(text: str) -> str:
    """``text`` lower-cased with ASCII punctuation removed and spaces collapsed."""
    kept = text.lower().translate(str.maketrans("", "", string.punctuation))
    return " ".join(kept.split())
