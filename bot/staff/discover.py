"""New-intent discovery: the messages the bot could not answer, grouped into proposed intents.

Messages that fell back or were out of scope are embedded with Touchline's sentence encoder
(:mod:`bot.nlu.embedding_model`, all-MiniLM-L6-v2; any ``texts -> [n, dim]`` function
works), L2-normalised, and clustered with Ward-linkage agglomerative clustering (SciPy's
``linkage``, the algorithm of scikit-learn's ``AgglomerativeClustering``). Nobody tells the
number of clusters: the tree is cut at a merge height (:data:`THRESHOLD`) at which the
labelled examples of known intents are best grouped (:func:`calibrate_threshold`). Each
cluster gets its size, a per-day count over the date range and its trend, the messages
nearest its centroid, and a name from its most distinctive words: class-based TF-IDF (the
cluster's word frequencies weighted by ``log(1 + mean words per cluster / word frequency
over all clusters)``, Grootendorst 2022, BERTopic).

Measured on CLINC150 in ``bench/discover.py`` (README, "Benchmarks").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import numpy as np
from numpy.typing import NDArray

Embed = Callable[[list[str]], NDArray[np.float32]]
"""Texts -> float array ``[len(texts), dim]``."""

REPRESENTATIVES = 5
"""Messages shown per cluster (those nearest its centroid)."""
NAME_WORDS = 3
"""Words of a suggested intent name."""
THRESHOLD = 2.25
"""Ward height at which the tree is cut: :func:`calibrate_threshold` on CLINC150's
validation rows (20 per intent) of the 112 known intents of the first open-intent draw,
over :data:`THRESHOLD_GRID` (``bench/discover.py`` calibrates every draw again)."""
THRESHOLD_GRID = tuple(round(1.0 + 0.125 * i, 3) for i in range(25))
"""Heights tried by :func:`calibrate_threshold`: 1.0 to 4.0 in steps of 0.125."""
MIN_CLUSTER = 3
"""Smallest group shown as a proposed intent; smaller ones are left as noise."""
STOP_WORDS = frozenset(
    "a an and are as at be been but by can could do does did for from have has had how i "
    "i'm im if in into is it its it's me my of on or our please so that the their them then "
    "there this to too us was we were what when where which who why will with would you "
    "your yours hi hello hey thanks thank just can't cant don't dont want need know tell "
    "get got like some any about up out am".split()
)
"""Words never used in a suggested name (function words and greetings, written here)."""
_WORD = re.compile(r"[a-z][a-z']+")


@dataclass(frozen=True)
class Unanswered:
    """One message the bot could not answer.

    Attributes:
        text: the message as stored (already redacted).
        at: when it was sent (timezone-aware).
        conversation: the conversation (Rasa sender id).
    """

    text: str
    at: datetime
    conversation: str


@dataclass(frozen=True)
class Cluster:
    """A proposed new intent.

    Attributes:
        key: stable id within one result (``c`` + the smallest member index).
        name: suggested intent name, e.g. ``gift_card_balance``.
        keywords: the cluster's most distinctive words, best first.
        size: number of messages.
        members: indices of the messages in the input list.
        representatives: up to :data:`REPRESENTATIVES` distinct texts nearest the centroid.
        daily: messages per day, one count per day of the range, oldest first.
        trend: least-squares slope of ``daily`` in messages per day per day (> 0: growing).
    """

    key: str
    name: str
    keywords: tuple[str, ...]
    size: int
    members: tuple[int, ...]
    representatives: tuple[str, ...]
    daily: tuple[int, ...]
    trend: float


def normalise(vectors: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float64)


def cluster_labels(vectors: NDArray[np.floating[Any]], count: int | None = None,
                   threshold: float = THRESHOLD) -> NDArray[np.int64]:
    """Ward-linkage clusters of the rows, the tree cut at a height or into a count.

    Args:
        vectors: ``[n, dim]`` embeddings (normalised here, so Ward's squared Euclidean
            distances are ``2 - 2 cos``).
        count: the number of clusters, or ``None`` to cut at ``threshold``.
        threshold: Ward merge height at which the tree is cut (:data:`THRESHOLD`,
            :func:`calibrate_threshold`).

    Returns:
        ``[n]`` integer labels ``0 .. k-1``.
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    points = normalise(np.asarray(vectors, dtype=np.float64))
    if len(points) < 2:
        return np.zeros(len(points), dtype=np.int64)
    tree = linkage(points, method="ward")  # the same merges as sklearn's Ward clustering
    cut = (fcluster(tree, t=min(count, len(points)), criterion="maxclust") if count
           else fcluster(tree, t=threshold, criterion="distance"))
    return np.asarray(cut, dtype=np.int64) - 1


def calibrate_threshold(vectors: NDArray[np.floating[Any]], intents: Sequence[str],
                        grid: Sequence[float] = THRESHOLD_GRID) -> float:
    """The cut height at which labelled examples of known intents are best grouped.

    The unanswered messages have no labels, but the bot's own intents do: the height
    whose clusters of their examples agree best with the intents (adjusted Rand index) is
    taken for the new ones. Ward heights grow with cluster size, so the examples should
    number about what a new intent gathers (20-30 per intent for :data:`THRESHOLD`).

    Args:
        vectors: embeddings of the examples.
        intents: their intents.
        grid: heights tried.

    Returns:
        The best height of ``grid`` (the lowest among ties).
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.metrics import adjusted_rand_score

    tree = linkage(normalise(np.asarray(vectors, dtype=np.float64)), method="ward")
    scores = [adjusted_rand_score(intents, fcluster(tree, t=t, criterion="distance"))
              for t in grid]
    return float(grid[int(np.argmax(scores))])


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` without :data:`STOP_WORDS` or placeholders."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]


def distinctive_words(texts: Sequence[str], labels: NDArray[np.int64], top: int = 5
                      ) -> dict[int, list[str]]:
    """Each cluster's most distinctive words by class-based TF-IDF.

    Args:
        texts: the messages.
        labels: their cluster labels.
        top: words per cluster.

    Returns:
        ``label -> words``, best first (ties by word); a cluster with no content word gets
        an empty list.
    """
    counts: dict[int, dict[str, int]] = {}
    for text, label in zip(texts, labels):
        bag = counts.setdefault(int(label), {})
        for word in words(text):
            bag[word] = bag.get(word, 0) + 1
    overall: dict[str, int] = {}
    for bag in counts.values():
        for word, c in bag.items():
            overall[word] = overall.get(word, 0) + c
    mean_words = sum(overall.values()) / max(len(counts), 1)
    result = {}
    for label, bag in counts.items():
        total = sum(bag.values()) or 1
        scored = {w: (c / total) * math.log(1 + mean_words / overall[w]) for w, c in bag.items()}
        result[label] = sorted(scored, key=lambda w: (-scored[w], w))[:top]
    return result


def intent_name(keywords: Sequence[str]) -> str:
    """A Rasa intent name from keywords (``["gift", "card"]`` -> ``gift_card``), or
    ``new_intent`` without any."""
    name = "_".join(re.sub(r"[^a-z0-9]", "", w) for w in keywords[:NAME_WORDS])
    return name.strip("_") or "new_intent"


def daily_counts(times: Sequence[datetime], start: date, end: date) -> list[int]:
    """Messages per UTC day from ``start`` to ``end`` inclusive (times outside are ignored)."""
    days = (end - start).days + 1
    counts = [0] * max(days, 0)
    for at in times:
        index = (at.astimezone(timezone.utc).date() - start).days
        if 0 <= index < days:
            counts[index] += 1
    return counts


def slope(values: Sequence[int]) -> float:
    """Least-squares slope of ``values`` against their index (0.0 for fewer than two)."""
    if len(values) < 2:
        return 0.0
    x = np.arange(len(values), dtype=np.float64)
    return float(np.polyfit(x, np.asarray(values, dtype=np.float64), 1)[0])


def discover(messages: Sequence[Unanswered], embed: Embed, start: date | None = None,
             end: date | None = None, min_size: int = MIN_CLUSTER,
             threshold: float = THRESHOLD) -> list[Cluster]:
    """Group unanswered messages into proposed intents, largest first.

    Args:
        messages: the fell-back or out-of-scope messages of the range.
        embed: the sentence encoder (:func:`minilm_embedder` in production).
        start: first UTC day of the trend (default: the earliest message's day).
        end: last UTC day of the trend (default: the latest message's day).
        min_size: smallest cluster returned.
        threshold: the cut height (:func:`cluster_labels`).

    Returns:
        The clusters of at least ``min_size`` messages; ``[]`` for no messages.
    """
    if not messages:
        return []
    texts = [m.text for m in messages]
    vectors = normalise(np.asarray(embed(texts), dtype=np.float64))
    labels = cluster_labels(vectors, threshold=threshold)
    names = distinctive_words(texts, labels)
    days = [m.at.astimezone(timezone.utc).date() for m in messages]
    first, last = start or min(days), end or max(days)
    clusters = []
    for label in sorted(set(int(v) for v in labels)):
        members = np.flatnonzero(labels == label)
        if len(members) < min_size:
            continue
        centroid = vectors[members].mean(axis=0)
        nearest = members[np.argsort(-(vectors[members] @ centroid), kind="stable")]
        daily = daily_counts([messages[i].at for i in members], first, last)
        clusters.append(Cluster(
            key=f"c{int(members.min())}", name=intent_name(names[label]),
            keywords=tuple(names[label]), size=len(members),
            members=tuple(int(i) for i in members),
            representatives=tuple(dict.fromkeys(texts[i] for i in nearest))[:REPRESENTATIVES],
            daily=tuple(daily), trend=slope(daily),
        ))
    return sorted(clusters, key=lambda c: (-c.size, c.key))


def minilm_embedder(batch_size: int = 64) -> Embed:
    """Touchline's offline sentence encoder as an :data:`Embed` (loaded once per process).

    Returns:
        A function giving the model's normalised sentence embeddings, ``[n, 384]``.
    """
    from bot.nlu.embedding_model import default_model_path, encode, load_fast_encoder, load_model

    path = default_model_path()
    model, fast = load_model(path), load_fast_encoder(path)
    dim = int(model.get_embedding_dimension() or 0)

    def embed(texts: list[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([e.sentence for e in encode(model, texts, batch_size, fast=fast)])

    return embed
