"""Session tokens of the web channels: the widget's sessions (``connectors/socketio.py``)
and the voice gateway's utterances and phone-call streams (``connectors/voice.py``).

Both channels build a :class:`SessionSigner` from the same secret (``$TOUCHLINE_SESSION_SECRET``,
else one random key per process), so a widget session's token also authorises its spoken
turns; each token is signed for a purpose, so a token of one kind never passes as another.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import time
import uuid

from bot.identity.tokens import Identity, IdentityKeys, mint, verify

logger = logging.getLogger(__name__)

SECRET_ENV = "TOUCHLINE_SESSION_SECRET"
"""Environment variable holding the HMAC key of session tokens."""
_PROCESS_KEY = secrets.token_bytes(32)
"""Signing key when ``$TOUCHLINE_SESSION_SECRET`` is unset: one per process, so the widget
and voice channels of one Rasa server accept each other's session tokens."""
MAX_SESSION_ID_CHARS = 64
WEB_SESSION = "touchline-web-session"
"""Purpose signed into an anonymous widget session token."""
RESUME = "widget-resume"
"""Purpose of the token that rejoins a signed-in widget session after a reconnect."""


class SessionSigner:
    """Issues session ids with HMAC-SHA256 tokens and checks tokens clients present."""

    def __init__(self, secret: bytes) -> None:
        """Args: secret: the HMAC key (at least 16 bytes).

        Raises:
            ValueError: the secret is shorter than 16 bytes.
        """
        if len(secret) < 16:
            raise ValueError(f"{SECRET_ENV} must be at least 16 bytes long")
        self._secret = secret

    @classmethod
    def from_env(cls) -> SessionSigner:
        """A signer keyed by ``$TOUCHLINE_SESSION_SECRET``, else by :data:`_PROCESS_KEY`."""
        secret = os.environ.get(SECRET_ENV, "")
        if not secret:
            logger.warning(
                "%s is not set: using a random key; widget sessions end when this process "
                "restarts and are not shared between processes", SECRET_ENV
            )
            return cls(_PROCESS_KEY)
        return cls(secret.encode())

    def token(self, session_id: str, purpose: str = WEB_SESSION) -> str:
        """The hex HMAC-SHA256 token of ``session_id`` for ``purpose`` (a widget session,
        or another channel's kind such as a phone call's stream: a token of one purpose
        never verifies as another)."""
        message = purpose.encode() + b":" + session_id.encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def _resume_keys(self) -> IdentityKeys:
        """The HS256 key of resume tokens, derived from the session secret."""
        key = hmac.new(self._secret, RESUME.encode(), hashlib.sha256).hexdigest()
        return IdentityKeys(secret=key)

    def resume_token(self, identity: Identity) -> str:
        """A token rejoining ``identity``'s conversation as its customer until it expires.

        Raises:
            ValueError: the identity has expired.
        """
        if identity.expires_at <= time.time():
            raise ValueError("the identity has expired")
        # Issued when the identity was, so that a revocation voids it too.
        return mint(identity.customer_id, identity.conversation_id,
                    self._resume_keys().secret,
                    ttl_s=identity.expires_at - identity.issued_at,
                    purpose=RESUME, now=identity.issued_at)

    def resumed_identity(self, token: object) -> Identity:
        """The identity a resume token (:meth:`resume_token`) carries.

        Raises:
            IdentityError: not a valid, unexpired resume token of this server.
        """
        return verify(token, self._resume_keys(), purpose=RESUME)

    def issue(self) -> tuple[str, str]:
        """A fresh random session id and its token."""
        session_id = uuid.uuid4().hex
        return session_id, self.token(session_id)

    def verify(self, session_id: object, token: object, purpose: str = WEB_SESSION) -> bool:
        """Whether ``token`` is the token this server issued for ``session_id`` and
        ``purpose``.

        Args:
            session_id, token: whatever the client sent (non-strings are rejected).
            purpose: what the token must have been issued for.
        """
        if not isinstance(session_id, str) or not isinstance(token, str):
            return False
        if not 0 < len(session_id) <= MAX_SESSION_ID_CHARS:
            return False
        return hmac.compare_digest(self.token(session_id, purpose), token)
