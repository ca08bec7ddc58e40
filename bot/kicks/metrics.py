"""Scores of probability forecasts: AUC, Brier score, log loss and a calibration table."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score


def scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC, Brier score and log loss of probabilities ``p`` for 0/1 outcomes ``y``.

    Args:
        y: 0/1 outcomes, shape ``(n,)``; both classes must occur for the AUC.
        p: probabilities in [0, 1], shape ``(n,)``.

    Returns:
        ``{"auc", "brier", "log_loss", "n"}``; ``auc`` is NaN with a single class.
    """
    p = np.clip(np.asarray(p, dtype=float), 1e-15, 1 - 1e-15)
    y = np.asarray(y)
    auc = float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")
    return {
        "auc": auc,
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "n": int(len(y)),
    }


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Predicted vs observed success per probability bin (equal-width bins on [0, 1]).

    Args:
        y: 0/1 outcomes; p: probabilities; bins: number of bins.

    Returns:
        One dict per non-empty bin: ``low``, ``high``, ``n``, ``mean_predicted``,
        ``observed_rate``.
    """
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    table = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            table.append(
                {
                    "low": float(edges[b]),
                    "high": float(edges[b + 1]),
                    "n": int(mask.sum()),
                    "mean_predicted": float(p[mask].mean()),
                    "observed_rate": float(y[mask].mean()),
                }
            )
    return table
