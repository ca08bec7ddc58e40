"""Liveness endpoint, with the search indexes counted against the catalogue."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from sqlalchemy.exc import SQLAlchemyError

from bot.search.service import index_counts
from bot.store.db import get_engine

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)


@router.get("/health")
def health() -> dict[str, Any]:
    """``{"status": "ok", "search": {...}}`` while the service runs.

    ``search`` holds ``catalogue`` (products in the shop database), ``vectors`` and
    ``text`` (products in the vector and full-text indexes) and ``in_sync`` (all three
    equal; if not, ``python -m bot.search.cli sync`` repairs the indexes), or ``error`` when
    the shop database cannot be read.
    """
    try:
        counts = index_counts(get_engine())
    except SQLAlchemyError as exc:
        logger.warning("health: cannot count the search indexes: %s", type(exc).__name__)
        return {"status": "ok", "search": {"error": "shop database unavailable"}}
    return {"status": "ok", "search": {"catalogue": counts.catalogue, "vectors": counts.vectors,
                                       "text": counts.text, "in_sync": counts.in_sync}}
