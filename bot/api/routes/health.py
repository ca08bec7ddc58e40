"""Liveness endpoint."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """Return ``{"status": "ok"}`` while the service runs."""
    return {"status": "ok"}
