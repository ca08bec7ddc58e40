"""Multinomial logistic regression kept as plain arrays (no pickles in model files).

Training uses scikit-learn's ``LogisticRegression`` (lbfgs, multinomial log-loss);
prediction is ``softmax((X @ W.T + b) / temperature)``, computed here with numpy so that
a persisted model is just ``W``, ``b``, the class names and the temperature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
from sklearn.linear_model import LogisticRegression


@dataclass(frozen=True)
class SoftmaxModel:
    """A fitted softmax classifier.

    Attributes:
        weights: shape ``[n_classes, n_features]``.
        bias: shape ``[n_classes]``.
        classes: class names, aligned with the rows of ``weights``.
    """

    weights: np.ndarray
    bias: np.ndarray
    classes: tuple[str, ...]

    def logits(self, x: scipy.sparse.spmatrix | np.ndarray) -> np.ndarray:
        """Unnormalised scores, shape ``[n_rows, n_classes]``."""
        return np.asarray(x @ self.weights.T) + self.bias


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (numerically stable).

    Args:
        logits: shape ``[n, k]``.
        temperature: > 0; values above 1 flatten the distribution (Guo et al. 2017,
            "On Calibration of Modern Neural Networks", temperature scaling).

    Returns:
        Probabilities, shape ``[n, k]``, rows summing to 1.
    """
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_softmax(
    x: scipy.sparse.spmatrix, labels: list[str], c: float, max_iter: int
) -> SoftmaxModel:
    """Fit an L2-regularised multinomial logistic regression.

    Args:
        x: design matrix, shape ``[n, d]``.
        labels: class name of each row; at least two distinct names.
        c: inverse regularisation strength (scikit-learn's ``C``).
        max_iter: lbfgs iteration cap.

    Returns:
        The fitted model. For two classes scikit-learn stores one weight row ``w`` and
        its ``predict_proba`` is ``softmax([-w·x, w·x])``; the rows are expanded to that
        form so prediction is the same softmax for any number of classes.

    Raises:
        ValueError: fewer than two classes.
    """
    if len(set(labels)) < 2:
        raise ValueError("fit_softmax needs at least two classes")
    clf = LogisticRegression(C=c, max_iter=max_iter, solver="lbfgs", multi_class="multinomial")
    clf.fit(x, labels)
    weights, bias = clf.coef_.astype(np.float32), clf.intercept_.astype(np.float32)
    if weights.shape[0] == 1:
        weights, bias = np.vstack([-weights, weights]), np.concatenate([-bias, bias])
    return SoftmaxModel(weights=weights, bias=bias, classes=tuple(str(c) for c in clf.classes_))
