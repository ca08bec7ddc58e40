"""Agent inbox accounts over HTTP: login, logout, who am I, presence, and agent management.

* ``POST /agent/api/login`` ``{"email", "password"}``: sets the session cookie
  (:mod:`bot.api.auth`) and answers the agent with the session's ``csrf_token``; 401 wrong
  e-mail or password; 429 the account is locked after repeated failures
  (:data:`bot.store.agents.MAX_FAILED_LOGINS`, for :data:`bot.store.agents.LOCKOUT`).
* ``POST /agent/api/logout``: ends the session.
* ``GET /agent/api/me``: the signed-in agent and the CSRF token for the page.
* ``POST /agent/api/presence`` ``{"active": bool}``: the page is open and in use
  (heartbeat), or idle/closing (offline at once).
* ``GET /agent/api/agents`` (admin): every agent, with ``online``;
  ``POST /agent/api/agents`` (admin) ``{"name", "email", "password", "role"}``: a new agent,
  422 when refused (:func:`bot.store.agents.create_agent`).

Every route but login answers 401 to an anonymous request; every state-changing one needs
the CSRF header (403 without).  Each action is logged (``agent_actions``) with the agent id.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, constr

from bot.api.auth import (
    SESSION_COOKIE,
    CurrentAdmin,
    CurrentAgent,
    clear_session_cookie,
    set_session_cookie,
)
from bot.store import agents as store
from bot.store.db import session_scope

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/agent/api", tags=["agent inbox"])


class Credentials(BaseModel):
    """An agent's e-mail address and password."""

    email: constr(strip_whitespace=True, min_length=3, max_length=254)  # type: ignore[valid-type]
    password: constr(min_length=1, max_length=200)  # type: ignore[valid-type]


class Me(BaseModel):
    """The signed-in agent, with the token to send in ``X-CSRF-Token``."""

    id: int
    name: str
    email: str
    role: str
    csrf_token: str


class AgentOut(BaseModel):
    """An agent as admins see them."""

    id: int
    name: str
    email: str
    role: str
    online: bool


class NewAgent(BaseModel):
    """An agent account to create."""

    name: constr(strip_whitespace=True, min_length=1, max_length=100)  # type: ignore[valid-type]
    email: constr(strip_whitespace=True, min_length=3, max_length=254)  # type: ignore[valid-type]
    password: constr(min_length=1, max_length=200)  # type: ignore[valid-type]
    role: constr(regex="^(agent|admin)$") = "agent"  # type: ignore[valid-type]


class Presence(BaseModel):
    """The inbox page's state: in use (``true``) or idle / closing (``false``)."""

    active: bool


def _me(principal: store.Principal) -> Me:
    return Me(id=principal.id, name=principal.name, email=principal.email,
              role=principal.role, csrf_token=principal.csrf_token)


@router.post("/login", response_model=Me)
def login(body: Credentials, request: Request, response: Response) -> Me:
    """Sign an agent in (see the module docstring).

    Raises:
        HTTPException: 401 wrong e-mail or password; 429 account locked.
    """
    with session_scope() as session:
        result = store.login(session, body.email, body.password)
        if result.principal is not None:  # signed in on the inbox page: online
            store.record_action(session, result.principal.id, "login")
            store.heartbeat(session, result.principal.id)
    if result.locked:
        logger.warning("agent login refused: account locked")
        raise HTTPException(429, "too many failed logins: this account is locked for "
                                 f"{int(store.LOCKOUT.total_seconds() // 60)} minutes")
    if result.principal is None or result.cookie is None:
        raise HTTPException(401, "wrong e-mail address or password")
    logger.info("agent %d signed in", result.principal.id)
    set_session_cookie(response, request, result.cookie)
    return _me(result.principal)


@router.post("/logout")
def logout(agent: CurrentAgent, request: Request, response: Response) -> dict[str, str]:
    """End this session; the agent is offline."""
    with session_scope() as session:
        store.logout(session, request.cookies.get(SESSION_COOKIE, ""))
        store.set_away(session, agent.id)
        store.record_action(session, agent.id, "logout")
    clear_session_cookie(response)
    return {"status": "signed out"}


@router.get("/me", response_model=Me)
def me(agent: CurrentAgent) -> Me:
    """The signed-in agent and the session's CSRF token."""
    return _me(agent)


@router.post("/presence")
def presence(body: Presence, agent: CurrentAgent) -> dict[str, bool]:
    """Record the page's heartbeat (``active``) or that it went idle."""
    with session_scope() as session:
        if body.active:
            store.heartbeat(session, agent.id)
        else:
            store.set_away(session, agent.id)
    return {"online": body.active}


@router.get("/agents", response_model=list[AgentOut])
def agents(_admin: CurrentAdmin) -> list[AgentOut]:
    """Every agent account, with whether they are online now."""
    with session_scope() as session:
        online = {a.id for a in store.online_agents(session)}
        return [AgentOut(id=a.id, name=a.name, email=a.email, role=a.role,
                         online=a.id in online) for a in store.list_agents(session)]


@router.post("/agents", response_model=AgentOut, status_code=201)
def create(body: NewAgent, admin: CurrentAdmin) -> AgentOut:
    """Create an agent account.

    Raises:
        HTTPException: 422 refused (taken e-mail, weak password...).
    """
    try:
        with session_scope() as session:
            created = store.create_agent(session, body.name, body.email, body.password,
                                         body.role)
            store.record_action(session, admin.id, "create_agent", detail=f"agent {created.id}")
            out = AgentOut(id=created.id, name=created.name, email=created.email,
                           role=created.role, online=False)
    except store.AgentError as exc:
        raise HTTPException(422, str(exc)) from None
    return out
