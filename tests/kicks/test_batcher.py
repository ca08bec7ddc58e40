"""Micro-batching: concurrent predictions share one model call and match single ones."""

from __future__ import annotations

import asyncio

import pytest

from bot.kicks.batcher import PredictionBatcher
from bot.kicks.predictor import ModelOutputError, PositionError

REQUESTS = [
    {"x_m": 22.0, "y_m": 35.0},
    {"x_m": 40.0, "y_m": 15.0, "kicker": "Rhys Talbot", "competition": "Northern Cup"},
    {"distance_m": 30.0, "angle_deg": 20.0, "kick_type": "conversion", "period": 4},
    {"x_m": 30.0, "y_m": 90.0},  # off the pitch
    {"x_m": 30.0, "y_m": 35.0, "period": 7},  # no such period
    {"x_m": 48.0, "y_m": 10.0, "kicker": "Nobody", "home": False, "score_diff": -7},
]


def test_concurrent_requests_are_one_model_call_with_the_same_answers(predictor):
    batcher = PredictionBatcher(predictor)
    calls: list[int] = []
    real = predictor.predict_many

    def counted(requests, raise_errors=False):
        calls.append(len(requests))
        return real(requests, raise_errors)

    async def run() -> list[object]:
        return await asyncio.gather(
            *(batcher.predict(**r) for r in REQUESTS), return_exceptions=True
        )

    predictor.predict_many = counted
    try:
        answers = asyncio.run(run())
    finally:
        del predictor.predict_many
    assert calls == [len(REQUESTS)]
    for request, answer in zip(REQUESTS, answers, strict=True):
        if request.get("y_m") == 90.0:
            assert isinstance(answer, PositionError)
        elif request.get("period") == 7:
            assert isinstance(answer, ValueError) and "period" in str(answer)
        else:
            single = predictor.predict(**request)
            assert answer.probability == pytest.approx(single.probability, abs=1e-6)
            assert answer.average_probability == pytest.approx(single.average_probability, abs=1e-6)
            assert answer.fallbacks == single.fallbacks


def test_a_bad_model_output_fails_the_whole_batch_cleanly(nan_predictor):
    batcher = PredictionBatcher(nan_predictor)

    async def run() -> list[object]:
        return await asyncio.gather(
            *(batcher.predict(**r) for r in REQUESTS[:3]), return_exceptions=True
        )

    assert all(isinstance(a, ModelOutputError) for a in asyncio.run(run()))


def test_one_batcher_per_predictor(predictor, nan_predictor):
    assert PredictionBatcher.of(predictor) is PredictionBatcher.of(predictor)
    assert PredictionBatcher.of(predictor) is not PredictionBatcher.of(nan_predictor)
