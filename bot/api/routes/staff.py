"""The staff console: ``/staff/analytics``, ``/staff/review``, ``/staff/discover`` and their
JSON API under ``/staff/api`` (admins of the agent inbox only: 401 anonymous, 403 agents;
state-changing requests need the inbox session's CSRF header, :mod:`bot.api.auth`).

* ``GET /staff/api/analytics?start=&end=&channel=``: the figures
  (:class:`bot.staff.analytics.Summary`); ``.../analytics.svg``: conversations per day and
  channel; ``.../analytics.csv``: one row per conversation.
* ``GET /staff/api/conversations`` (``start``, ``end``, ``channel``, ``intent``,
  ``fell_back``, ``handed_off``, ``low_confidence``, ``rated_low``, ``q``) and
  ``GET /staff/api/conversations/{id}``: the review list and a transcript with each user
  message's predicted intent and confidence.
* ``POST /staff/api/labels`` ``{"intent", "text"}``: a message labelled into
  ``data/nlu/review/<intent>.yml`` (:mod:`bot.staff.training_data`).
* ``GET /staff/api/clusters?start=&end=``: proposed new intents;
  ``POST /staff/api/clusters/promote`` ``{"intent", "examples", "response"}`` and
  ``POST /staff/api/clusters/dismiss`` ``{"examples"}``.
* ``POST /staff/api/retrain``: start train and compare in the background (409 while one
  runs); ``GET /staff/api/retrain``: its steps and, when done, per-intent F1 before and
  after; ``POST /staff/api/retrain/deploy`` (409 when an intent got worse than the margin)
  and ``POST /staff/api/retrain/rollback`` (:mod:`bot.staff.retrain`).
* ``GET``/``PUT /staff/api/reminders``: the cart-reminder settings
  (:class:`bot.staff.reminders.ReminderSettings`).

Dates are UTC days ``YYYY-MM-DD``; the default range is the last 7 days.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, conlist, constr

from bot.api.auth import CurrentAdmin
from bot.config import settings
from bot.staff import service
from bot.staff.analytics import Filters, summarise, to_csv
from bot.staff.charts import stacked_bars
from bot.staff.reminders import load_settings, save_settings
from bot.staff.training_data import TrainingDataError, add_examples, add_intent
from bot.store import agents as agent_store
from bot.store.db import session_scope

logger = logging.getLogger(__name__)

router = APIRouter(tags=["staff console"])
STATIC = Path(__file__).resolve().parent.parent / "static" / "staff"
PAGES = {"analytics": "analytics.html", "review": "review.html", "discover": "discover.html"}
ASSETS = {"staff.js": "text/javascript", "staff.css": "text/css", "analytics.js":
          "text/javascript", "review.js": "text/javascript", "discover.js": "text/javascript",
          "retrain.js": "text/javascript", "reminders.js": "text/javascript"}
HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def _range(start: date | None, end: date | None) -> tuple[date, date]:
    """The requested days, the last 7 by default; 422 for a bad range."""
    last = end or datetime.now(timezone.utc).date()
    first = start or last - timedelta(days=6)
    try:
        service.day_bounds(first, last)
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    return first, last


def _log(admin_id: int, action: str, detail: str) -> None:
    """Record a staff action in the inbox's audit log."""
    with session_scope() as session:
        agent_store.record_action(session, admin_id, action, detail=detail)


@router.get("/staff/{page}", include_in_schema=False)
def staff_page(page: str) -> FileResponse:
    """A staff page (static HTML; the page asks for sign-in when the API answers 401)."""
    if page in PAGES:
        return FileResponse(STATIC / PAGES[page], media_type="text/html", headers=HEADERS)
    if page in ASSETS:
        return FileResponse(STATIC / page, media_type=ASSETS[page], headers=HEADERS)
    raise HTTPException(404, "no such staff page")


@router.get("/staff/api/analytics")
def analytics(admin: CurrentAdmin, start: date | None = None, end: date | None = None,
              channel: str | None = Query(None, max_length=40)) -> dict[str, Any]:
    """The analytics figures of the range (rates in [0, 1], seconds, ``null`` if no data)."""
    first, last = _range(start, end)
    summary = summarise(service.rows(first, last, channel or None))
    return {"start": first.isoformat(), "end": last.isoformat(), **asdict(summary),
            "ratings": {str(k): v for k, v in summary.ratings.items()}}


@router.get("/staff/api/analytics.svg")
def analytics_chart(admin: CurrentAdmin, start: date | None = None, end: date | None = None,
                    channel: str | None = Query(None, max_length=40)) -> Response:
    """Conversations per day and channel as an SVG bar chart."""
    first, last = _range(start, end)
    summary = summarise(service.rows(first, last, channel or None))
    return Response(stacked_bars(summary.per_day), media_type="image/svg+xml", headers=HEADERS)


@router.get("/staff/api/analytics.csv")
def analytics_csv(admin: CurrentAdmin, start: date | None = None, end: date | None = None,
                  channel: str | None = Query(None, max_length=40)) -> Response:
    """One CSV row per conversation of the range."""
    first, last = _range(start, end)
    name = f"touchline-conversations-{first}-{last}.csv"
    return Response(to_csv(service.rows(first, last, channel or None)), media_type="text/csv",
                    headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/staff/api/conversations")
def conversations(admin: CurrentAdmin, start: date | None = None, end: date | None = None,
                  channel: str | None = Query(None, max_length=40),
                  intent: str | None = Query(None, max_length=60), fell_back: bool = False,
                  handed_off: bool = False, low_confidence: bool = False,
                  rated_low: bool = False, q: str | None = Query(None, max_length=200),
                  limit: int = Query(200, ge=1, le=1000)) -> dict[str, Any]:
    """Conversations of the range meeting every filter, newest first."""
    first, last = _range(start, end)
    keep = Filters(intent or None, fell_back, handed_off, low_confidence, rated_low, q or None)
    found = sorted((r for r in service.rows(first, last, channel or None) if keep.keep(r)),
                   key=lambda r: -r.started_at)
    return {"total": len(found), "conversations": [
        {"conversation": r.conversation, "channel": r.channel, "started_at": r.started_at,
         "user_messages": r.user_messages, "intents": sorted(set(r.intents) - {""}),
         "fallbacks": r.fallbacks, "handed_off": r.handed_off, "rating": r.rating,
         "low_confidence": r.low_confidence, "first_message": (r.texts or [""])[0][:200]}
        for r in found[:limit]]}


@router.get("/staff/api/conversations/{conversation:path}")
def conversation(conversation: str, admin: CurrentAdmin) -> dict[str, Any]:
    """A transcript: user messages with intent and confidence, bot and agent messages."""
    events = service.transcript(conversation)
    if not events:
        raise HTTPException(404, "no such conversation")
    return {"conversation": conversation, "events": [
        {"id": e.event_id, "kind": e.kind, "at": e.at, "text": e.text or "",
         "intent": e.intent, "confidence": e.confidence, "channel": e.channel,
         "agent": e.agent} for e in events]}


class Label(BaseModel):
    """A user message and the intent it should have been."""

    intent: constr(strip_whitespace=True, min_length=1, max_length=60)  # type: ignore[valid-type]
    text: constr(max_length=2000)  # type: ignore[valid-type]


@router.post("/staff/api/labels")
def label(body: Label, admin: CurrentAdmin) -> dict[str, Any]:
    """Write the message, redacted, as an example of the intent (422 if refused)."""
    try:
        written = add_examples(settings().training_root, body.intent, [body.text])
    except TrainingDataError as error:
        raise HTTPException(422, str(error)) from None
    _log(admin.id, "staff_label", f"{body.intent}: {len(written)} example(s)")
    return {"intent": body.intent, "written": written,
            "file": f"data/nlu/review/{body.intent}.yml"}


@router.get("/staff/api/clusters")
def clusters(admin: CurrentAdmin, start: date | None = None,
             end: date | None = None) -> dict[str, Any]:
    """Proposed new intents from the range's unanswered messages, largest first."""
    first, last = _range(start, end)
    found, messages = service.clusters(first, last)
    return {"start": first.isoformat(), "end": last.isoformat(), "messages": len(messages),
            "clusters": [{**asdict(c), "examples": [messages[i].text for i in c.members]}
                         for c in found]}


class Promote(BaseModel):
    """A cluster made an intent: its name, the examples kept and the bot's answer."""

    intent: constr(strip_whitespace=True, min_length=1, max_length=60)  # type: ignore[valid-type]
    examples: conlist(constr(max_length=2000), min_items=1, max_items=2000)  # type: ignore[valid-type]
    response: constr(strip_whitespace=True, min_length=1, max_length=1000)  # type: ignore[valid-type]


@router.post("/staff/api/clusters/promote")
def promote(body: Promote, admin: CurrentAdmin) -> dict[str, Any]:
    """Add the intent to the domain and rules, its examples to the review data."""
    root = settings().training_root
    try:
        add_intent(root, body.intent, body.response)
        written = add_examples(root, body.intent, body.examples)
    except TrainingDataError as error:
        raise HTTPException(422, str(error)) from None
    service.dismiss(body.examples)  # taught now: no longer proposed
    _log(admin.id, "staff_promote", f"{body.intent}: {len(written)} example(s)")
    return {"intent": body.intent, "examples": len(written)}


class Dismiss(BaseModel):
    """The messages of a dismissed cluster."""

    examples: conlist(constr(max_length=2000), min_items=1, max_items=2000)  # type: ignore[valid-type]


@router.post("/staff/api/clusters/dismiss")
def dismiss(body: Dismiss, admin: CurrentAdmin) -> dict[str, int]:
    """Leave these messages out of later discovery."""
    service.dismiss(body.examples)
    _log(admin.id, "staff_dismiss", f"{len(body.examples)} message(s)")
    return {"dismissed": len(body.examples)}


@router.get("/staff/api/reminders")
def reminders(admin: CurrentAdmin) -> dict[str, Any]:
    """The cart-reminder settings."""
    return asdict(load_settings())


@router.put("/staff/api/reminders")
def set_reminders(body: dict[str, Any], admin: CurrentAdmin) -> dict[str, Any]:
    """Change the cart-reminder settings (422 when invalid)."""
    try:
        saved = save_settings(body)
    except (ValueError, TypeError) as error:
        raise HTTPException(422, str(error)) from None
    _log(admin.id, "staff_reminders", f"delay {saved.delay_minutes} min")
    return asdict(saved)


@router.post("/staff/api/retrain")
def retrain(admin: CurrentAdmin) -> dict[str, Any]:
    """Start train and compare (409 while a run is going or without a model)."""
    try:
        run = service.start_retrain()
    except service.RetrainBusy as error:
        raise HTTPException(409, str(error)) from None
    _log(admin.id, "staff_retrain", run.id)
    return run.as_dict()


@router.get("/staff/api/retrain")
def retrain_state(admin: CurrentAdmin) -> dict[str, Any]:
    """The last run's steps and results (``{"status": "none"}`` before any)."""
    run = service.latest_run()
    return run.as_dict() if run else {"status": "none"}


@router.post("/staff/api/retrain/deploy")
def retrain_deploy(admin: CurrentAdmin) -> dict[str, str]:
    """Load the new model into the Rasa servers (409 if not allowed, 502 if refused)."""
    try:
        replaced = service.deploy_latest()
    except ValueError as error:
        raise HTTPException(409, str(error)) from None
    except httpx.HTTPError as error:
        raise HTTPException(502, f"a Rasa server did not take the model: {error}") from None
    _log(admin.id, "staff_deploy", replaced.name)
    return {"replaced": replaced.name}


@router.post("/staff/api/retrain/rollback")
def retrain_rollback(admin: CurrentAdmin) -> dict[str, str]:
    """Load the model the last deploy replaced (409 if none, 502 if refused)."""
    try:
        restored = service.rollback()
    except ValueError as error:
        raise HTTPException(409, str(error)) from None
    except httpx.HTTPError as error:
        raise HTTPException(502, f"a Rasa server did not take the model: {error}") from None
    _log(admin.id, "staff_rollback", restored.name)
    return {"restored": restored.name}
