"""Similarity of messages to their nearest training examples (an open-set score).

A message that no training example resembles is likely outside every intent, however
confident the linear classifier is: softmax confidence only compares the known intents
with each other. The mean cosine similarity to the ``k`` nearest training examples in the
sentence-embedding space is the k-nearest-neighbour out-of-distribution score of Sun et
al. 2022 ("Out-of-Distribution Detection with Deep Nearest Neighbors", ICML), used for
intents by Zhou et al. 2021 ("Contrastive Out-of-Distribution Detection for Pretrained
Transformers", EMNLP).
"""

from __future__ import annotations

import numpy as np


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """``matrix`` with every non-zero row scaled to unit L2 norm (zero rows stay zero).

    Args:
        matrix: shape ``[n, d]``.

    Returns:
        float32 array of the same shape.
    """
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def nearest_similarity(
    reference: np.ndarray,
    reference_labels: np.ndarray,
    queries: np.ndarray,
    predicted: np.ndarray,
    k: int,
) -> np.ndarray:
    """Mean cosine similarity of each query to its ``k`` most similar examples of the
    intent predicted for it.

    Comparing with the predicted intent's own examples (rather than any example) asks
    whether the message looks like what that intent was taught; on BANKING77's
    open-intent splits it found more unknown intents at the same in-scope cost.

    Args:
        reference: shape ``[n, d]``, the training examples' vectors (any norm).
        reference_labels: shape ``[n]``, each example's intent.
        queries: shape ``[m, d]``, the messages' vectors (any norm).
        predicted: shape ``[m]``, the intent predicted for each message.
        k: neighbours averaged, >= 1 (fewer when an intent has fewer examples).

    Returns:
        Shape ``[m]``, values in [-1, 1]; 1.0 where the predicted intent has no example
        or ``d`` is 0 (no evidence either way, so the score leaves the probability alone).

    Raises:
        ValueError: ``k`` < 1.
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    out = np.ones(len(queries), dtype=np.float32)
    if not len(reference) or not reference.shape[1] or not len(queries):
        return out
    similarity = unit_rows(queries) @ unit_rows(reference).T
    labels = np.asarray(reference_labels)
    for intent in np.unique(predicted):
        rows, columns = predicted == intent, labels == intent
        if not columns.any():
            continue
        block = similarity[np.ix_(rows, columns)]
        top = min(k, block.shape[1])
        out[rows] = -np.partition(-block, top - 1, axis=1)[:, :top].mean(axis=1)
    return out


def open_set_score(
    probability: np.ndarray, similarity: np.ndarray, weight: float
) -> np.ndarray:
    """Confidence that a message belongs to its predicted intent, in [0, 1].

    ``probability * exp(weight * (similarity - 1))``: the calibrated best in-scope
    probability, discounted the further the message lies from its nearest training
    examples. It is monotone in ``log(probability) + weight * similarity``, a product of
    experts of the classifier and the neighbour score; ``weight`` 0 is the probability
    alone, so a threshold of 0.0 still means "never reject".

    Args:
        probability: shape ``[n]``, best in-scope probability in [0, 1].
        similarity: shape ``[n]``, :func:`nearest_similarity` in [-1, 1].
        weight: >= 0, how much the distance to the examples counts.

    Returns:
        Shape ``[n]``.
    """
    return probability * np.exp(weight * (np.minimum(similarity, 1.0) - 1.0))


def best_reading(whole: float, sentences: np.ndarray, power: float) -> tuple[int | None, float]:
    """Whether a long message is read whole or as one of its sentences, and its open-set
    score.

    The best sentence is the maximum of several scores, so it pays for its several chances:
    its score is raised to ``power`` (> 1 lowers a score in [0, 1)) before it is compared
    with the whole message's. A sentence therefore never leaves the message with a lower
    score than reading it whole.

    Args:
        whole: the whole message's :func:`open_set_score`, in [0, 1].
        sentences: shape ``[k]``, each sentence's :func:`open_set_score`.
        power: > 0, the classifier's ``sentence_score_power`` (1.5, chosen on CLINC150's
            validation split).

    Returns:
        ``(index of the sentence, its raised score)`` when that beats ``whole``, else
        ``(None, whole)``.
    """
    if not len(sentences):
        return None, whole
    best = int(np.argmax(sentences))
    raised = float(sentences[best]) ** power
    return (best, raised) if raised > whole else (None, whole)
