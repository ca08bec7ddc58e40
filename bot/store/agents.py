"""Agent accounts of the inbox: creation, login with lockout, server-side sessions,
presence and the audit log of what agents do.

A session cookie is 32 random bytes (``secrets.token_urlsafe``); only its SHA-256 is
stored (:class:`~bot.store.models.AgentSession`), so a copy of the database signs nobody
in.  Each session has its own CSRF token that the page sends back in a header.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.store.models import Agent, AgentAction, AgentSession, utcnow
from bot.store.passwords import check_password, hash_password

ROLES = ("agent", "admin")
"""An agent answers customers; an admin also creates agents and reassigns conversations."""
MAX_FAILED_LOGINS = 5
"""Wrong passwords in a row that lock an account (OWASP's authentication cheat sheet
suggests a lockout threshold of a few attempts with a time-bound lock)."""
LOCKOUT = timedelta(minutes=15)
"""How long a locked account refuses every login, the right password included."""
SESSION_LIFETIME = timedelta(hours=12)
"""An inbox login lasts one working day; then the agent signs in again."""
ONLINE_WINDOW = timedelta(seconds=60)
"""An agent is online while their inbox page sent a heartbeat this recently (the page
sends one every 20 s while open and not idle)."""
MIN_PASSWORD_CHARS = 10
"""Shortest password accepted for an agent account (NIST SP 800-63B asks at least 8)."""


class AgentError(ValueError):
    """An agent account that cannot be created (duplicate e-mail, bad role, weak password)."""


@dataclass(frozen=True)
class Principal:
    """A signed-in agent as the API sees them.

    Attributes:
        id: ``agents.id``.
        name: display name.
        email: login.
        role: ``agent`` or ``admin``.
        csrf_token: the session's CSRF token.
    """

    id: int
    name: str
    email: str
    role: str
    csrf_token: str

    @property
    def is_admin(self) -> bool:
        """Whether the agent may manage agents and reassign conversations."""
        return self.role == "admin"


@dataclass(frozen=True)
class LoginResult:
    """What :func:`login` decided.

    Attributes:
        cookie: the new session's cookie value, ``None`` when refused.
        principal: the signed-in agent, ``None`` when refused.
        locked: the account is locked (also when this attempt locked it).
    """

    cookie: str | None
    principal: Principal | None
    locked: bool


def _digest(cookie: str) -> str:
    """SHA-256 hex of a session cookie (what the database keeps)."""
    return hashlib.sha256(cookie.encode()).hexdigest()


def create_agent(session: Session, name: str, email: str, password: str,
                 role: str = "agent") -> Agent:
    """Create an agent account.

    Args:
        session: open session; the row is part of its transaction.
        name: display name (1-100 characters after trimming).
        email: login e-mail (stored lower-cased, unique).
        password: at least :data:`MIN_PASSWORD_CHARS` characters, at most 72 bytes.
        role: one of :data:`ROLES`.

    Returns:
        The new agent (flushed: ``id`` is set).

    Raises:
        AgentError: empty name, malformed or taken e-mail, unknown role, weak password.
    """
    name, email = name.strip(), email.strip().lower()
    if not 1 <= len(name) <= 100:
        raise AgentError("a name has 1 to 100 characters")
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise AgentError("not an e-mail address")
    if role not in ROLES:
        raise AgentError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AgentError(f"a password has at least {MIN_PASSWORD_CHARS} characters")
    if session.scalar(select(Agent.id).where(Agent.email == email)) is not None:
        raise AgentError("an agent with that e-mail address exists")
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        raise AgentError(str(exc)) from None
    agent = Agent(name=name, email=email, role=role, password_hash=hashed, failed_logins=0)
    session.add(agent)
    session.flush()
    return agent


def login(session: Session, email: str, password: str,
          now: datetime | None = None) -> LoginResult:
    """Check an agent's password and open a session.

    A wrong password counts against the account; the :data:`MAX_FAILED_LOGINS`-th in a row
    locks it for :data:`LOCKOUT`, during which even the right password is refused.  The
    counter is updated with a single ``UPDATE ... SET failed_logins = failed_logins + 1``,
    so concurrent guesses cannot slip past it.  An unknown e-mail is checked against a
    dummy hash so it takes as long as a known one.

    Args:
        session: open session (commit it to keep the counter and the new session).
        email: the login (any case).
        password: as typed.
        now: the time (tests); default :func:`utcnow`.

    Returns:
        :class:`LoginResult`.
    """
    now = now or utcnow()
    agent = session.scalar(select(Agent).where(Agent.email == email.strip().lower()))
    if agent is None:
        check_password(password, _dummy_hash())
        return LoginResult(None, None, False)
    if agent.locked_until is not None and agent.locked_until > now:
        return LoginResult(None, None, True)
    if not check_password(password, agent.password_hash):
        session.execute(update(Agent).where(Agent.id == agent.id)
                        .values(failed_logins=Agent.failed_logins + 1))
        session.refresh(agent)
        if agent.failed_logins >= MAX_FAILED_LOGINS:
            agent.locked_until = now + LOCKOUT
            agent.failed_logins = 0
            session.flush()
            return LoginResult(None, None, True)
        return LoginResult(None, None, False)
    agent.failed_logins, agent.locked_until = 0, None
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(AgentSession(token_hash=_digest(cookie), agent_id=agent.id, csrf_token=csrf,
                             created_at=now, expires_at=now + SESSION_LIFETIME))
    session.execute(delete(AgentSession).where(AgentSession.expires_at <= now))
    session.flush()
    return LoginResult(cookie, Principal(agent.id, agent.name, agent.email, agent.role, csrf),
                       False)


@cache
def _dummy_hash() -> str:
    """A bcrypt hash of a random password (made once per process): checking an unknown
    e-mail's password against it takes as long as a real check."""
    return hash_password(secrets.token_urlsafe(16))


def principal_of(session: Session, cookie: str | None,
                 now: datetime | None = None) -> Principal | None:
    """The agent a session cookie signs in, ``None`` for none, unknown or expired."""
    if not cookie or len(cookie) > 200:
        return None
    row = session.execute(
        select(Agent, AgentSession.csrf_token).join(AgentSession)
        .where(AgentSession.token_hash == _digest(cookie),
               AgentSession.expires_at > (now or utcnow()))
    ).first()
    if row is None:
        return None
    agent, csrf = row
    return Principal(agent.id, agent.name, agent.email, agent.role, csrf)


def logout(session: Session, cookie: str) -> None:
    """End the session of ``cookie`` (nothing when there is none)."""
    session.execute(delete(AgentSession).where(AgentSession.token_hash == _digest(cookie)))


def heartbeat(session: Session, agent_id: int, now: datetime | None = None) -> None:
    """Mark the agent online now (their inbox page is open and not idle)."""
    session.execute(update(Agent).where(Agent.id == agent_id)
                    .values(last_seen_at=now or utcnow()))


def set_away(session: Session, agent_id: int) -> None:
    """Mark the agent offline at once (the page went idle or was closed)."""
    session.execute(update(Agent).where(Agent.id == agent_id).values(last_seen_at=None))


def online_agents(session: Session, now: datetime | None = None) -> list[Agent]:
    """Agents whose page sent a heartbeat within :data:`ONLINE_WINDOW`, by name."""
    since = (now or utcnow()) - ONLINE_WINDOW
    return list(session.scalars(select(Agent).where(Agent.last_seen_at >= since)
                                .order_by(Agent.name)))


def list_agents(session: Session) -> list[Agent]:
    """Every agent, by name."""
    return list(session.scalars(select(Agent).order_by(Agent.name, Agent.id)))


def count_agents(session: Session) -> int:
    """How many agent accounts exist."""
    return session.scalar(select(func.count()).select_from(Agent)) or 0


def record_action(session: Session, agent_id: int, action: str, ticket_id: int | None = None,
                  detail: str = "") -> None:
    """Add a line to the audit log (``agent_actions``): who did what to which ticket.

    Args:
        session: open session; part of its transaction.
        agent_id: the acting agent.
        action: ``login``, ``claim``, ``reply``, ``close``... (at most 40 characters).
        ticket_id: the ticket concerned, if any.
        detail: free text (cut to 1,000 characters); never a password.
    """
    session.add(AgentAction(agent_id=agent_id, ticket_id=ticket_id, action=action[:40],
                            detail=detail[:1000]))
