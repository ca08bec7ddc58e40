"""Kick predictor API: ``POST /kicks/predict`` and ``GET /kicks/heatmap.png``.

Validation (replay R15): positions off the pitch, NaN or infinite numbers, strings that
are not numbers and unknown fields get a 422 whose message names the field and its
allowed range; a model output that is not a finite probability, and a missing model
(nothing trained yet: serving never trains), are a JSON 503, never a 500. Everything
served comes from a model trained on simulated data unless the model's metadata says
otherwise (``simulated`` in every response).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, root_validator, validator

from bot.kicks import geometry
from bot.kicks.batcher import PredictionBatcher
from bot.kicks.heatmap import render_heatmap
from bot.kicks.predictor import (
    KickModelMissing,
    KickPredictor,
    ModelOutputError,
    PositionError,
    Prediction,
    get_predictor,
    loaded_predictor,
)

router = APIRouter(prefix="/kicks", tags=["kicks"])

RANGES: dict[str, tuple[float, float, str]] = {
    "x_m": (0.0, geometry.PITCH_LENGTH_M, "metres out from the try line"),
    "y_m": (0.0, geometry.PITCH_WIDTH_M, "metres from the left touchline"),
    "distance_m": (0.0, 122.1, "metres to the centre between the posts"),
    "angle_deg": (0.0, 90.0, "degrees off the line through the posts"),
    "score_diff": (-200.0, 200.0, "points, kicking team minus opponents"),
    "minute": (0.0, 120.0, "match minute"),
}
"""Allowed range and meaning of each numeric field."""


def _range_text(name: str) -> str:
    low, high, meaning = RANGES[name]
    return f"{name} must be a finite number from {low:g} to {high:g} ({meaning})"


class KickRequest(BaseModel):
    """Body of ``POST /kicks/predict``: a position as ``x_m``+``y_m`` or
    ``distance_m``+``angle_deg``, and the situation."""

    x_m: float | None = Field(None, ge=0, le=100, description=RANGES["x_m"][2])
    y_m: float | None = Field(None, ge=0, le=70, description=RANGES["y_m"][2])
    distance_m: float | None = Field(None, ge=0, le=122.1, description=RANGES["distance_m"][2])
    angle_deg: float | None = Field(None, ge=0, le=90, description=RANGES["angle_deg"][2])
    kicker: str | None = Field(None, max_length=120, description="kicker id or name")
    competition: str | None = Field(None, max_length=120)
    kick_type: Literal["penalty", "conversion"] = "penalty"
    period: Literal[1, 2, 3, 4] = 1
    minute: int | None = Field(None, ge=0, le=120, description=RANGES["minute"][2])
    home: bool = True
    score_diff: int = Field(0, ge=-200, le=200, description=RANGES["score_diff"][2])

    class Config:
        extra = "forbid"

    @validator(*RANGES, pre=True)
    def _finite_in_range(cls, value: Any, field: Any) -> Any:  # noqa: N805
        """Reject NaN, infinities, booleans, non-numbers and out-of-range numbers with a
        message naming the field and its range."""
        if value is None:
            return value
        if isinstance(value, bool):
            raise ValueError(_range_text(field.name))
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an int of 400 digits
            raise ValueError(_range_text(field.name)) from None
        low, high, _ = RANGES[field.name]
        if not math.isfinite(number) or not low <= number <= high:
            raise ValueError(_range_text(field.name))
        if field.name in ("score_diff", "minute") and number != int(number):
            raise ValueError(_range_text(field.name) + ", a whole number")
        return value

    @root_validator(skip_on_failure=True)
    def _one_position(cls, values: dict[str, Any]) -> dict[str, Any]:  # noqa: N805
        """Exactly one complete position pair, and a polar position on the pitch."""
        xy = values.get("x_m") is not None, values.get("y_m") is not None
        polar = values.get("distance_m") is not None, values.get("angle_deg") is not None
        if any(xy) and any(polar):
            raise ValueError("give either x_m and y_m or distance_m and angle_deg, not both")
        if not all(xy) and not all(polar):
            raise ValueError(
                "give a position: x_m (0 to 100) and y_m (0 to 70), or distance_m and "
                "angle_deg (0 to 90)"
            )
        if all(polar):
            x, y = geometry.from_polar(values["distance_m"], values["angle_deg"])
            if not geometry.is_on_pitch(x, y):
                raise ValueError(
                    "distance_m and angle_deg put the kick off the pitch: the spot must be "
                    "at most 100 m out and 35 m either side of the posts"
                )
        return values


def _model_error(exc: Exception) -> JSONResponse:
    return JSONResponse(
        status_code=503,
        content={"detail": {"error": "model_output_invalid", "message": str(exc)}},
    )


async def current_predictor() -> KickPredictor:
    """The process's predictor (the first call loads it in a worker thread).

    ``async`` so that requests do not hop to the thread pool once it is loaded.

    Raises:
        HTTPException: 503 ``model_missing`` when no kick model has been trained.
    """
    try:
        return loaded_predictor() or await asyncio.to_thread(get_predictor)
    except KickModelMissing as exc:
        raise HTTPException(
            status_code=503, detail={"error": "model_missing", "message": str(exc)}
        ) from None


@router.post("/predict", response_model=Prediction)
async def predict(
    body: KickRequest, predictor: KickPredictor = Depends(current_predictor)
) -> JSONResponse:
    """Success probability of a place kick for a kicker, and the all-kicker average.

    Concurrent requests share one model call (:mod:`bot.kicks.batcher`); the answer is
    serialised directly (it is built from validated numbers, so FastAPI's second
    validation against ``Prediction`` is skipped).
    """
    try:
        result = await PredictionBatcher.of(predictor).predict(**body.dict())
    except PositionError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    except ModelOutputError as exc:
        return _model_error(exc)
    return JSONResponse(asdict(result))


@router.get("/heatmap.png", response_class=Response)
def heatmap(
    kicker: str | None = Query(None, max_length=120, description="kicker id or name"),
    predictor: KickPredictor = Depends(current_predictor),
) -> Response:
    """PNG heatmap of penalty success over the half pitch (one kicker or the average)."""
    kicker_id = None
    if kicker:
        found = predictor.find_kicker(kicker)
        if found is None:
            raise HTTPException(status_code=404, detail=f"unknown kicker {kicker!r}")
        kicker_id = found[0]
    try:
        png = render_heatmap(predictor, kicker_id)
    except ModelOutputError as exc:
        return _model_error(exc)
    return Response(content=png, media_type="image/png")
