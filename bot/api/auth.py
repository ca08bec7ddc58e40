"""Who is calling an inbox route: FastAPI dependencies over the agent session cookie.

* :func:`current_agent`: the signed-in agent (:class:`bot.store.agents.Principal`); 401
  without a valid session; 403 when a state-changing request (any method but GET, HEAD and
  OPTIONS) lacks the session's CSRF token in the ``X-CSRF-Token`` header.
* :func:`require_admin`: the same, and 403 unless the agent is an admin.

The session cookie (:data:`SESSION_COOKIE`) is HttpOnly (scripts cannot read it),
SameSite=Strict (no other site's page sends it) and Secure when the request came over
HTTPS; it holds a random token whose SHA-256 names a server-side session row, so logging
out ends it everywhere.  The CSRF token is the synchronizer-token pattern: random per
session, stored server-side, handed to the page by ``GET /agent/api/me`` and compared in
constant time.  The ``/tickets`` bearer token of machine clients is separate
(``bot/api/routes/tickets.py``).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Cookie, Depends, Header, HTTPException, Request, Response

from bot.store.agents import SESSION_LIFETIME, Principal, principal_of
from bot.store.db import session_scope

SESSION_COOKIE = "touchline_agent_session"
"""Name of the inbox's session cookie."""
CSRF_HEADER = "X-CSRF-Token"
"""Header carrying the session's CSRF token on state-changing requests."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that change nothing and need no CSRF token."""


def set_session_cookie(response: Response, request: Request, cookie: str) -> None:
    """Put the session cookie on ``response`` (HttpOnly, SameSite=Strict, path ``/``,
    Secure over HTTPS, :data:`~bot.store.agents.SESSION_LIFETIME`)."""
    response.set_cookie(SESSION_COOKIE, cookie, max_age=int(SESSION_LIFETIME.total_seconds()),
                        httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")


def clear_session_cookie(response: Response) -> None:
    """Tell the browser to forget the session cookie."""
    response.delete_cookie(SESSION_COOKIE, path="/")


def current_agent(
    request: Request,
    touchline_agent_session: Annotated[str | None, Cookie()] = None,
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> Principal:
    """The signed-in agent of this request.

    Returns:
        The agent and their session's CSRF token.

    Raises:
        HTTPException: 401 no valid session; 403 a state-changing request without the
            session's CSRF token.
    """
    with session_scope() as session:
        principal = principal_of(session, touchline_agent_session)
    if principal is None:
        raise HTTPException(401, "sign in to the agent inbox")
    if request.method not in SAFE_METHODS and not hmac.compare_digest(
            (x_csrf_token or "").encode(), principal.csrf_token.encode()):
        raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header")
    return principal


CurrentAgent = Annotated[Principal, Depends(current_agent)]
"""A route parameter: the signed-in agent (see :func:`current_agent`)."""


def require_admin(agent: CurrentAgent) -> Principal:
    """The signed-in agent, who must be an admin.

    Raises:
        HTTPException: as :func:`current_agent`; 403 for an agent who is not an admin.
    """
    if not agent.is_admin:
        raise HTTPException(403, "only an admin may do this")
    return agent


CurrentAdmin = Annotated[Principal, Depends(require_admin)]
"""A route parameter: the signed-in admin (see :func:`require_admin`)."""
