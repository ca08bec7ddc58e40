"""Versioned model artifacts under ``var/models/kicks/`` (:func:`models_dir`).

Layout: ``<models_dir>/<version>/model.joblib`` (the fitted scikit-learn pipeline) and
``<models_dir>/<version>/metadata.json``; ``<models_dir>/LATEST`` names the current
version. Versions look like ``kicks-20240501T120000Z-1a2b3c4d`` (UTC training time, then
the first 8 hex digits of the data hash).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import joblib
from sklearn.pipeline import Pipeline

from bot.config import settings, var_dir
from bot.kicks.events import Kick


def models_dir() -> Path:
    """``$TOUCHLINE_KICKS_MODELS`` or ``<var>/models/kicks`` (created if missing)."""
    path = settings().kicks_models or var_dir() / "models" / "kicks"
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_hash(kicks: Iterable[Kick]) -> str:
    """SHA-256 (hex) of the kicks' schema events, one canonical JSON line each, in order."""
    digest = hashlib.sha256()
    for kick in kicks:
        digest.update(json.dumps(kick.to_event(), sort_keys=True).encode() + b"\n")
    return digest.hexdigest()


def save(pipeline: Pipeline, metadata: dict[str, Any], root: Path | None = None) -> str:
    """Save a pipeline and its metadata as a new version and make it the latest.

    Args:
        pipeline: fitted pipeline (``predict_proba`` -> ``(n, 2)``).
        metadata: JSON-serialisable dict; must hold ``data_hash``. ``version`` and
            ``trained_at`` (ISO 8601 UTC) are added.
        root: models folder, default :func:`models_dir`.

    Returns:
        The version string.
    """
    root = root or models_dir()
    now = datetime.now(timezone.utc)
    version = f"kicks-{now:%Y%m%dT%H%M%S%f}Z-{metadata['data_hash'][:8]}"
    folder = root / version
    folder.mkdir(parents=True)
    metadata = {**metadata, "version": version, "trained_at": now.isoformat()}
    joblib.dump(pipeline, folder / "model.joblib")
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    tmp = root / "LATEST.tmp"
    tmp.write_text(version + "\n")
    tmp.replace(root / "LATEST")
    return version


def latest_version(root: Path | None = None) -> str | None:
    """Version named by ``LATEST``, or ``None`` when nothing was saved yet."""
    pointer = (root or models_dir()) / "LATEST"
    if not pointer.exists():
        return None
    return pointer.read_text().strip() or None


def load(version: str | None = None, root: Path | None = None) -> tuple[Pipeline, dict[str, Any]]:
    """Load a saved pipeline and its metadata.

    Args:
        version: version to load, default the latest.
        root: models folder, default :func:`models_dir`.

    Returns:
        ``(pipeline, metadata)``.

    Raises:
        FileNotFoundError: no such version (or none saved).
    """
    root = root or models_dir()
    version = version or latest_version(root)
    if version is None or not (root / version / "model.joblib").exists():
        raise FileNotFoundError(f"no kick model {version or '(none saved)'} in {root}")
    metadata = json.loads((root / version / "metadata.json").read_text())
    return joblib.load(root / version / "model.joblib"), metadata
