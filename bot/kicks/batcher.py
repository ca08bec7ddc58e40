"""Micro-batching of kick predictions for the HTTP API.

Requests that reach the event loop together are answered by one model call
(:meth:`~bot.kicks.predictor.KickPredictor.predict_many`): the scikit-learn transform and
XGBoost's ``inplace_predict`` cost about the same for 2 rows as for 32, so under load the
model's share of each request shrinks with the batch (dynamic batching as in NVIDIA
Triton's "dynamic batcher", without a delay: the batch is what arrived before the next
loop iterations).
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from bot.kicks.predictor import KickPredictor, Prediction

GATHER_HOPS = 3
"""Event-loop iterations a batch stays open after its first request, so requests parsed
in the same wake-up join it (each hop costs microseconds, not a timer)."""
MAX_BATCH = 64
"""Most requests answered by one model call."""


class PredictionBatcher:
    """Collects concurrent :meth:`predict` calls of one event loop into model batches.

    Args:
        predictor: the loaded model.
    """

    def __init__(self, predictor: KickPredictor) -> None:
        self.predictor = predictor
        self._pending: list[tuple[dict[str, Any], asyncio.Future[Prediction]]] = []
        self._flushing = False

    @classmethod
    def of(cls, predictor: KickPredictor) -> PredictionBatcher:
        """The batcher of ``predictor`` (one per predictor, created on first use)."""
        batcher = _batchers.get(predictor)
        if batcher is None:
            batcher = _batchers[predictor] = cls(predictor)
        return batcher

    async def predict(self, **request: Any) -> Prediction:  # noqa: ANN401
        """Like :meth:`KickPredictor.predict` (same arguments, results and errors)."""
        future: asyncio.Future[Prediction] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            for _ in range(GATHER_HOPS):
                await asyncio.sleep(0)
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                try:
                    answers = self.predictor.predict_many([request for request, _ in batch])
                except Exception as exc:  # a bug must fail these requests, not hang them
                    answers = [exc] * len(batch)
                for (_, future), answer in zip(batch, answers, strict=True):
                    if future.done():
                        continue
                    if isinstance(answer, Exception):
                        future.set_exception(answer)
                    else:
                        future.set_result(answer)
        finally:
            self._flushing = False


_batchers: weakref.WeakKeyDictionary[KickPredictor, PredictionBatcher] = (
    weakref.WeakKeyDictionary()
)
