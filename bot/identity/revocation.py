"""Whether the shop revoked a sign-in (its logout): read from the shop database, which every
Rasa worker shares (:func:`bot.store.identity.revoke_sign_in` writes it)."""

from __future__ import annotations

from bot.identity.tokens import Identity
from bot.store.db import session_scope
from bot.store.identity import sign_in_revoked


def is_revoked(identity: Identity) -> bool:
    """Whether the shop revoked ``identity``'s conversation since the token was issued.

    Blocking (one database read): call it from a worker thread in async code.
    """
    with session_scope() as session:
        return sign_in_revoked(session, identity.conversation_id, identity.issued_at)
