"""Identity tokens: short-lived JWTs the shop signs for its logged-in customer.

A token says "this browser (or this REST caller) is customer ``sub`` in conversation
``sid``" until ``exp``.  Claims (RFC 7519):

* ``sub``: the customer's id in the shop database, as a string of digits;
* ``sid``: the conversation id (the Rasa sender id) the token is for, 1 to 64 letters,
  digits, ``_`` or ``-`` (so never a channel namespace such as ``telegram:``);
* ``iat``, ``exp``: issued and expiry time (Unix seconds); ``exp - iat`` must not exceed
  :data:`MAX_LIFETIME_S` (15 minutes, the lifetime Intercom and Zendesk recommend for
  messenger identity tokens), so a leaked token is worth little;
* ``jti``: a unique id, so a channel can refuse a token presented twice
  (:func:`bot.store.identity.consume_token_id`);
* ``purpose``: what the token may be used for (:data:`IDENTITY`, or a channel's own kind
  such as a widget resume token), so one kind of token is never accepted as another.

Shop and Touchline share an HS256 secret (``$TOUCHLINE_IDENTITY_SECRET``), or the shop
signs with an Ed25519 or RSA private key and Touchline holds only the public key
(``$TOUCHLINE_IDENTITY_PUBLIC_KEY``, algorithms ``EdDSA`` and ``RS256``).
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass

import jwt

from bot.config import Settings, settings

IDENTITY = "identity"
"""``purpose`` of the tokens the shop mints for the chat channels."""
MAX_LIFETIME_S = 900
"""Longest accepted ``exp - iat`` (seconds): 15 minutes."""
LEEWAY_S = 5
"""Clock skew tolerated between the shop and Touchline (seconds)."""
CONVERSATION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""Shape of a conversation id in a token (``sid``)."""
_SHARED = ["HS256"]
_PUBLIC = ["EdDSA", "RS256"]
_REQUIRED = ["sub", "sid", "iat", "exp", "jti", "purpose"]


class IdentityError(ValueError):
    """A token that is missing, malformed, badly signed, expired or meant for something else.

    The message says which, for the log; :attr:`reason` is what a client may be told.
    """

    def __init__(self, message: str, reason: str = "invalid") -> None:
        """Args: message: what was wrong (for the log); reason: ``invalid``,
        ``expired`` or ``replayed`` (for the client)."""
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    """A verified identity token.

    Attributes:
        customer_id: the customer's id in the shop database.
        conversation_id: the conversation (Rasa sender id) the token is for.
        token_id: the token's ``jti``.
        expires_at: when the token stops being valid (Unix seconds).
        issued_at: when it was issued (Unix seconds; a revocation voids the tokens of a
            conversation issued up to then, :func:`bot.store.identity.sign_in_revoked`).
    """

    customer_id: int
    conversation_id: str
    token_id: str
    expires_at: int
    issued_at: int


@dataclass(frozen=True)
class IdentityKeys:
    """The keys identity tokens are verified (and, with a secret, minted) with.

    Attributes:
        secret: the shared HS256 key, empty when none is configured.
        public_key: a PEM public key (Ed25519 or RSA), ``None`` when none is configured.
    """

    secret: str = ""
    public_key: str | None = None

    @classmethod
    def from_settings(cls, config: Settings | None = None) -> IdentityKeys:
        """The keys of ``$TOUCHLINE_IDENTITY_SECRET`` and ``$TOUCHLINE_IDENTITY_PUBLIC_KEY``.

        Args:
            config: the settings (default: this process's).

        Raises:
            OSError: the public key file cannot be read.
        """
        config = config or settings()
        path = config.identity_public_key
        return cls(config.identity_secret, path.read_text(encoding="utf-8") if path else None)

    @property
    def configured(self) -> bool:
        """Whether any key is set (else every token is refused: identity is off)."""
        return bool(self.secret or self.public_key)


def mint(customer_id: int, conversation_id: str, secret: str, ttl_s: int = 600,
         purpose: str = IDENTITY, now: float | None = None) -> str:
    """A signed HS256 identity token (what the shop's backend does after its login).

    Args:
        customer_id: the customer's id in the shop database.
        conversation_id: the conversation the token is for (:data:`CONVERSATION_ID`).
        secret: the shared HS256 key (at least 16 characters).
        ttl_s: lifetime in seconds (at most :data:`MAX_LIFETIME_S`).
        purpose: the ``purpose`` claim.
        now: the issue time in Unix seconds (default: the clock).

    Returns:
        The compact JWT.

    Raises:
        ValueError: a bad conversation id, a lifetime out of (0, 900] or a short secret.
    """
    if not CONVERSATION_ID.fullmatch(conversation_id):
        raise ValueError("a conversation id is 1 to 64 letters, digits, '_' or '-'")
    if not 0 < ttl_s <= MAX_LIFETIME_S:
        raise ValueError(f"a token lives 1 to {MAX_LIFETIME_S} seconds")
    if len(secret) < 16:
        raise ValueError("the identity secret must be at least 16 characters long")
    issued = int(time.time() if now is None else now)
    claims = {"sub": str(int(customer_id)), "sid": conversation_id, "iat": issued,
              "exp": issued + ttl_s, "jti": uuid.uuid4().hex, "purpose": purpose}
    return jwt.encode(claims, secret, algorithm="HS256")


def verify(token: object, keys: IdentityKeys, purpose: str = IDENTITY,
           now: float | None = None) -> Identity:
    """Check a token's signature, claims, lifetime and purpose.

    Args:
        token: what the client sent (anything; only a string can pass).
        keys: the configured keys; HS256 tokens need the secret, EdDSA and RS256 ones the
            public key.
        purpose: the ``purpose`` the token must have.
        now: the time to check against, Unix seconds (default: the clock).

    Returns:
        The verified identity.

    Raises:
        IdentityError: no keys configured, not a JWT, an algorithm without its key, a bad
            signature, a missing or malformed claim, expired or not yet valid, a lifetime
            over :data:`MAX_LIFETIME_S`, or another purpose.
    """
    if not keys.configured:
        raise IdentityError("no identity key is configured")
    if not isinstance(token, str) or not 0 < len(token) <= 4096:
        raise IdentityError("no token")
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError as exc:
        raise IdentityError(f"not a JWT: {exc}") from None
    if algorithm in _SHARED and keys.secret:
        key: str = keys.secret
    elif algorithm in _PUBLIC and keys.public_key:
        key = keys.public_key
    else:
        raise IdentityError(f"algorithm {algorithm!r} has no configured key")
    checked_at = time.time() if now is None else now
    try:
        # PyJWT checks exp against the real clock; with `now` given it is checked below.
        claims = jwt.decode(
            token, key, algorithms=[algorithm], leeway=LEEWAY_S,
            options={"require": _REQUIRED, "verify_exp": now is None, "verify_iat": False},
        )
    except jwt.ExpiredSignatureError:
        raise IdentityError("token expired", "expired") from None
    except jwt.PyJWTError as exc:
        raise IdentityError(f"token refused: {exc}") from None
    return _identity(claims, purpose, checked_at)


def _identity(claims: dict[str, object], purpose: str, now: float) -> Identity:
    """The :class:`Identity` of decoded ``claims``, checked (see :func:`verify`)."""
    sub, sid, jti = claims["sub"], claims["sid"], claims["jti"]
    iat, exp = claims["iat"], claims["exp"]
    if claims["purpose"] != purpose:
        raise IdentityError(f"a {claims['purpose']!r} token is not a {purpose!r} token")
    if not (isinstance(sub, str) and sub.isdigit() and len(sub) <= 18):
        raise IdentityError("sub is not a customer id")
    if not (isinstance(sid, str) and CONVERSATION_ID.fullmatch(sid)):
        raise IdentityError("sid is not a conversation id")
    if not (isinstance(jti, str) and 0 < len(jti) <= 64):
        raise IdentityError("jti is not a token id")
    if not (isinstance(iat, int) and isinstance(exp, int)):
        raise IdentityError("iat and exp must be whole seconds")
    if exp - iat > MAX_LIFETIME_S:
        raise IdentityError(f"lifetime over {MAX_LIFETIME_S} s")
    if exp + LEEWAY_S <= now:
        raise IdentityError("token expired", "expired")
    if iat - LEEWAY_S > now:
        raise IdentityError("token issued in the future")
    return Identity(int(sub), sid, jti, exp, iat)
