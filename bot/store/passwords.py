"""Password hashes for the demo shop's login: scrypt from the standard library.

Format: ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>``.  Parameters n=2**14, r=8, p=1 are
the interactive-login values of the scrypt paper (Percival 2009, section 7) and of RFC 7914's
examples; 16 bytes of salt, 32 bytes of hash.  (argon2 and bcrypt are not installed in the
project's lock; scrypt is memory-hard too.)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 1
"""scrypt cost parameters (see the module docstring)."""


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` in this module's format."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches the ``stored`` hash (``None`` or malformed: never).

    The comparison takes constant time in the hash.
    """
    try:
        scheme, n, r, p, salt, digest = (stored or "").split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(digest) // 2)
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)
