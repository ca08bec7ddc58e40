"""Password hashes for the shop logins: bcrypt (the maintained ``bcrypt`` package).

bcrypt (Provos and Mazieres, 1999) with a random salt per password and cost factor
:data:`ROUNDS` (``2**12`` iterations, the package's default and OWASP's minimum
recommendation for bcrypt); the stored form is bcrypt's own modular-crypt string
(``$2b$12$...``, 60 characters). bcrypt reads at most 72 bytes of a password, so longer
passwords are refused rather than silently cut.
"""

from __future__ import annotations

import bcrypt

ROUNDS = 12
"""bcrypt cost factor (log2 of the iterations)."""

MAX_BYTES = 72
"""The most password bytes bcrypt reads."""


def hash_password(password: str) -> str:
    """A salted bcrypt hash of ``password``.

    Raises:
        ValueError: the password is longer than :data:`MAX_BYTES` bytes in UTF-8.
    """
    secret = password.encode()
    if len(secret) > MAX_BYTES:
        raise ValueError(f"a password is at most {MAX_BYTES} bytes")
    return bcrypt.hashpw(secret, bcrypt.gensalt(ROUNDS)).decode()


def check_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches the ``stored`` hash (``None``, malformed or a password
    over :data:`MAX_BYTES` bytes: never). bcrypt compares in constant time."""
    secret = password.encode()
    if not stored or len(secret) > MAX_BYTES:
        return False
    try:
        return bcrypt.checkpw(secret, stored.encode())
    except ValueError:
        return False
