"""FastAPI application factory of the Touchline API service (default port 8000).

Each feature contributes one ``APIRouter`` module under ``bot/api/routes/``; this module
only assembles them.  Run with ``uvicorn bot.api.app:create_app --factory``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from bot.api.rasa_link import LINK
from bot.api.routes import (
    agent_auth,
    agent_inbox,
    demo_login,
    health,
    kicks,
    search,
    staff,
    tickets,
    widget,
)
from bot.privacy import redactor
from bot.privacy.logs import install_log_redaction
from bot.runtime.gc_freeze import freeze


def create_app() -> FastAPI:
    """Build the API application with every router mounted.

    Log records of the process are redacted from here on (:mod:`bot.privacy.logs`).  At
    start-up the objects alive then are frozen out of the garbage collector's full
    collections (:func:`bot.runtime.gc_freeze.freeze`, as in the Rasa servers): the
    process imports Rasa, and a full collection walking its objects held every request
    for 100 to 290 ms.

    Returns:
        A FastAPI app; OpenAPI docs at ``/docs``, working offline.
    """
    install_log_redaction(redactor())
    # The docs page's Swagger UI files are served by the app itself (fastapi-offline), not
    # from a CDN: the service runs on machines without internet. No ReDoc page: its
    # bundle still fetches its logo from cdn.redoc.ly.
    app = FastAPIOffline(title="Touchline API", version="0.1.0", redoc_url=None)
    app.include_router(health.router)
    app.include_router(tickets.router)
    app.include_router(kicks.router)
    app.include_router(search.router)
    app.include_router(widget.router)
    app.include_router(demo_login.router)
    app.include_router(agent_auth.router)
    app.include_router(staff.router)
    app.include_router(agent_inbox.router)
    app.add_event_handler("startup", freeze)
    app.add_event_handler("shutdown", LINK.aclose)
    return app
