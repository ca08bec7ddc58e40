"""Serve kick predictions from memory: :class:`KickPredictor` loads the latest model and
the kicker-form store once, then answers each :meth:`KickPredictor.predict` without I/O.

Serving never trains: with no saved model or an empty form store, loading fails at once
with :class:`KickModelMissing`. ``make run`` trains the default model first
(``python -m bot.kicks.train --if-missing``, :mod:`bot.kicks.train`).

The data behind the model is simulated (:mod:`bot.kicks.simulate`) unless the model was
trained on a real feed; :attr:`Prediction.simulated` says which.
"""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
from sklearn.pipeline import Pipeline

from bot.kicks import artifact, form_store, geometry
from bot.kicks.features import FEATURES, feature_row
from bot.kicks.form import FormCounts
from bot.store.db import get_engine

KICK_TYPES = ("penalty", "conversion")


class PositionError(ValueError):
    """The kick position is missing, incomplete or off the pitch."""


class KickModelMissing(FileNotFoundError):
    """No kick model is saved, or the kicker-form store it needs is empty."""


TRAIN_HINT = "train one with `make run` or `python -m bot.kicks.train`"
"""How to get a model, appended to :class:`KickModelMissing` messages."""


class ModelOutputError(RuntimeError):
    """The model returned a probability that is not a finite number in [0, 1]."""


@dataclass
class Prediction:
    """Answer of :meth:`KickPredictor.predict`.

    Attributes:
        probability: this kicker's success probability in [0, 1] (the all-kicker average
            when the kicker is unknown or not given).
        average_probability: success probability of the average kicker from this spot
            (all-kicker form), in [0, 1].
        kicker_id, kicker_name: resolved kicker, ``None`` if unknown / not given.
        career_rate: the kicker's raw career success rate in [0, 1] (``None`` if unknown);
            career_kicks: kicks behind it.
        x_m, y_m: kick spot (metres out from the try line, from the left touchline);
        distance_m, angle_deg: metres to and degrees off the posts' centre; zone.
        model_version: artifact version; simulated: the model's data was simulated.
        fallbacks: ``unknown_kicker``, ``no_kicker``, ``unknown_competition``,
            ``no_competition``: what was replaced by all-kicker averages.
    """

    probability: float
    average_probability: float
    kicker_id: str | None
    kicker_name: str | None
    career_rate: float | None
    career_kicks: int
    x_m: float
    y_m: float
    distance_m: float
    angle_deg: float
    zone: str
    model_version: str
    simulated: bool
    fallbacks: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form (for JSON)."""
        return asdict(self)


def resolve_position(
    x_m: float | None = None,
    y_m: float | None = None,
    distance_m: float | None = None,
    angle_deg: float | None = None,
) -> tuple[float, float]:
    """Kick spot from ``(x_m, y_m)`` or from ``(distance_m, angle_deg)``.

    Returns:
        ``(x_m, y_m)`` in metres (polar input is placed on the right half).

    Raises:
        PositionError: neither pair complete, a value not finite, or the spot off the pitch.
    """
    if x_m is not None and y_m is not None:
        x, y = float(x_m), float(y_m)
    elif distance_m is not None and angle_deg is not None:
        if not 0.0 <= float(angle_deg) <= 90.0:
            raise PositionError("angle_deg must be between 0 and 90 degrees")
        x, y = geometry.from_polar(float(distance_m), float(angle_deg))
    else:
        raise PositionError("give x_m and y_m, or distance_m and angle_deg")
    if not (math.isfinite(x) and math.isfinite(y)) or not geometry.is_on_pitch(x, y):
        raise PositionError(
            f"position ({x:.1f}, {y:.1f}) is off the pitch: x_m must be in 0..100, "
            "y_m in 0..70 metres"
        )
    return x, y


@dataclass(frozen=True)
class _Plan:
    """One validated request: its model rows (kicker, then the average if a kicker) and
    what the answer reports besides the probabilities."""

    rows: list[list[object]]
    x: float
    y: float
    found: tuple[str, str] | None
    fallbacks: list[str]


class KickPredictor:
    """In-memory predictor: a fitted pipeline, its metadata and the form counts.

    Args:
        pipeline: fitted pipeline taking :data:`bot.kicks.features.FEATURES` rows.
        metadata: the artifact's metadata (``version``, ``data.simulated``).
        counts: kicker-form counts; kickers: ``{kicker_id: name}``.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        metadata: dict[str, Any],
        counts: FormCounts,
        kickers: dict[str, str],
    ) -> None:
        model = pipeline.steps[-1][1]
        if "n_jobs" in model.get_params():
            model.set_params(n_jobs=1)  # one row at a time: threads only add latency
        self.pipeline = pipeline
        self.metadata = metadata
        self.counts = counts
        self.kickers = kickers
        self._by_name = {name.casefold(): kid for kid, name in kickers.items()}
        self._competitions = {
            key for (kid, scope, key) in counts.counts if kid == "*" and scope == "competition"
        }

    @classmethod
    def load(
        cls, database_url: str | None = None, models_root: Path | None = None
    ) -> KickPredictor:
        """Load the latest model and the form store; never trains.

        Args:
            database_url: the shop database holding the form store (default
                ``$DATABASE_URL``).
            models_root: the models folder (default :func:`bot.kicks.artifact.models_dir`).

        Raises:
            KickModelMissing: no model is saved, or the form store is empty.
        """
        try:
            pipeline, metadata = artifact.load(root=models_root)
        except FileNotFoundError as exc:
            raise KickModelMissing(f"{exc}: {TRAIN_HINT}") from None
        engine = get_engine(database_url)
        counts = form_store.load_counts(engine)
        if not counts.counts:
            raise KickModelMissing(
                f"the kicker-form store in {engine.url!r} is empty: {TRAIN_HINT}"
            )
        return cls(pipeline, metadata, counts, form_store.load_kickers(engine))

    @property
    def version(self) -> str:
        """Model version string."""
        return str(self.metadata["version"])

    @property
    def simulated(self) -> bool:
        """Whether the model was trained on simulated data."""
        return bool(self.metadata.get("data", {}).get("simulated", True))

    def find_kicker(self, kicker: str | None) -> tuple[str, str] | None:
        """``(kicker_id, name)`` for an id or a name (case-insensitive), else ``None``."""
        if not kicker:
            return None
        text = kicker.strip()
        if text in self.kickers:
            return text, self.kickers[text]
        kid = self._by_name.get(text.casefold())
        return (kid, self.kickers[kid]) if kid else None

    def _rows(
        self,
        kicker_ids: list[str | None],
        x: float,
        y: float,
        competition: str | None,
        kick_type: str,
        period: int,
        minute: int,
        home: bool,
        score_diff: int,
    ) -> list[list[object]]:
        distance, angle = geometry.distance_to_posts(x, y), geometry.angle_to_posts(x, y)
        zone = geometry.field_zone(distance, angle)
        return [
            feature_row(
                distance_m=distance,
                angle_deg=angle,
                zone=zone,
                kick_type=kick_type,
                home=home,
                score_diff=score_diff,
                period=period,
                minute=minute,
                competition=competition or "",
                form=self.counts.rates(kid, zone, competition),
            )
            for kid in kicker_ids
        ]

    def _probabilities(self, rows: list[list[object]]) -> np.ndarray:
        X = np.empty((len(rows), len(FEATURES)), dtype=object)
        X[:] = rows
        p = self.pipeline.predict_proba(X)[:, 1]
        if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
            raise ModelOutputError(f"model {self.version} returned a non-finite probability")
        return p

    def predict(self, **query: Any) -> Prediction:  # noqa: ANN401
        """Success probability of one kick, and the all-kicker average from the spot.

        Keyword arguments (those of :meth:`_plan`; any other name is a ``TypeError``):
            x_m, y_m: metres out from the try line, metres from the left touchline; or
            distance_m, angle_deg: metres to the posts' centre, degrees off centre (0..90).
            kicker: kicker id or name; unknown or ``None`` -> all-kicker average.
            competition: competition name; unknown or ``None`` -> all-competition form.
            kick_type: ``"penalty"`` or ``"conversion"``.
            period: 1..4; minute: match minute (default 20 in period 1, else 60).
            home: kicking team at home; score_diff: its score minus the opponents'.

        Returns:
            :class:`Prediction`.

        Raises:
            PositionError: bad or off-pitch position.
            ValueError: bad ``kick_type`` or ``period``.
            ModelOutputError: the model's output is not a finite probability.
        """
        return cast(Prediction, self.predict_many([query], raise_errors=True)[0])

    def predict_many(
        self, requests: list[dict[str, Any]], raise_errors: bool = False
    ) -> list[Prediction | Exception]:
        """:meth:`predict` for many kicks with one call of the model (micro-batching: the
        model's cost hardly grows with the number of rows, see ``bench/kicks.py``).

        Args:
            requests: keyword arguments of :meth:`predict`, one dict per kick.
            raise_errors: raise the first request's error instead of returning it.

        Returns:
            One :class:`Prediction` per request, in order, or the ``PositionError`` /
            ``ValueError`` that request raised.  A model output that is not a finite
            probability makes every answer a :class:`ModelOutputError`.
        """
        plans: list[_Plan | Exception] = []
        for request in requests:
            try:
                plans.append(self._plan(**request))
            except ValueError as exc:
                if raise_errors:
                    raise
                plans.append(exc)
        rows = [row for plan in plans if isinstance(plan, _Plan) for row in plan.rows]
        try:
            p = self._probabilities(rows) if rows else np.empty(0)
        except ModelOutputError as exc:
            if raise_errors:
                raise
            return [exc if isinstance(plan, _Plan) else plan for plan in plans]
        answers: list[Prediction | Exception] = []
        at = 0
        for plan in plans:
            if isinstance(plan, Exception):
                answers.append(plan)
                continue
            answers.append(self._answer(plan, p[at:at + len(plan.rows)]))
            at += len(plan.rows)
        return answers

    def _plan(
        self,
        *,
        x_m: float | None = None,
        y_m: float | None = None,
        distance_m: float | None = None,
        angle_deg: float | None = None,
        kicker: str | None = None,
        competition: str | None = None,
        kick_type: str = "penalty",
        period: int = 1,
        minute: int | None = None,
        home: bool = True,
        score_diff: int = 0,
    ) -> _Plan:
        x, y = resolve_position(x_m, y_m, distance_m, angle_deg)
        if kick_type not in KICK_TYPES:
            raise ValueError(f"kick_type must be one of {KICK_TYPES}")
        if period not in (1, 2, 3, 4):
            raise ValueError("period must be 1, 2, 3 or 4")
        fallbacks = []
        found = self.find_kicker(kicker)
        if found is None:
            fallbacks.append("unknown_kicker" if kicker else "no_kicker")
        if not competition:
            fallbacks.append("no_competition")
        elif competition not in self._competitions:
            fallbacks.append("unknown_competition")
        minute = minute if minute is not None else (20 if period == 1 else 60)
        kid = found[0] if found else None
        ids = [kid, None] if kid else [None]
        rows = self._rows(ids, x, y, competition, kick_type, period, minute, home, score_diff)
        return _Plan(rows, x, y, found, fallbacks)

    def _answer(self, plan: _Plan, p: np.ndarray) -> Prediction:
        kid = plan.found[0] if plan.found else None
        attempts, made = self.counts.career(kid) if kid else (0, 0)
        distance = geometry.distance_to_posts(plan.x, plan.y)
        angle = geometry.angle_to_posts(plan.x, plan.y)
        return Prediction(
            probability=float(p[0]),
            average_probability=float(p[-1]),
            kicker_id=kid,
            kicker_name=plan.found[1] if plan.found else None,
            career_rate=made / attempts if attempts else None,
            career_kicks=attempts,
            x_m=plan.x,
            y_m=plan.y,
            distance_m=distance,
            angle_deg=angle,
            zone=geometry.field_zone(distance, angle),
            model_version=self.version,
            simulated=self.simulated,
            fallbacks=plan.fallbacks,
        )

    def grid(self, kicker_id: str | None, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Success probabilities over a grid (penalty, period 1, home, level score).

        Args:
            kicker_id: kicker id, ``None`` for the all-kicker average.
            xs: metres out from the try line, shape ``(nx,)``; ys: metres from the left
                touchline, shape ``(ny,)``.

        Returns:
            Array ``(ny, nx)`` of probabilities in [0, 1].

        Raises:
            ModelOutputError: a non-finite output.
        """
        rows = [
            row
            for y in ys
            for x in xs
            for row in self._rows([kicker_id], float(x), float(y), None, "penalty", 1, 20, True, 0)
        ]
        return self._probabilities(rows).reshape(len(ys), len(xs))


_lock = threading.Lock()
_predictor: KickPredictor | None = None


def loaded_predictor() -> KickPredictor | None:
    """The process-wide predictor if it is already loaded, else ``None`` (never blocks)."""
    return _predictor


def get_predictor() -> KickPredictor:
    """The process-wide predictor, loaded on first use.

    Raises:
        KickModelMissing: no model has been trained (see :meth:`KickPredictor.load`).
    """
    global _predictor
    with _lock:
        if _predictor is None:
            _predictor = KickPredictor.load()
        return _predictor
