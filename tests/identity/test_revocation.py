"""Revoked sign-ins: the shop's logout voids a conversation's identity tokens issued up to
then, in the shop database every Rasa worker reads."""

from __future__ import annotations

import time
from datetime import timedelta

from bot.identity.revocation import is_revoked
from bot.identity.tokens import IdentityKeys, mint, verify
from bot.store.db import session_scope
from bot.store.identity import REVOCATION_KEPT, revoke_sign_in, sign_in_revoked
from bot.store.models import RevokedSignIn

SECRET = "identity-secret-for-tests-0123456789"
KEYS = IdentityKeys(secret=SECRET)


def test_a_revocation_voids_the_conversations_earlier_tokens_only(db_url):
    now = time.time()
    before = verify(mint(7, "shop-rev-1", SECRET, now=now - 60), KEYS)
    other = verify(mint(7, "shop-rev-2", SECRET, now=now - 60), KEYS)
    assert not is_revoked(before)
    with session_scope(db_url) as session:
        revoke_sign_in(session, "shop-rev-1")
    assert is_revoked(before) and not is_revoked(other)
    later = verify(mint(7, "shop-rev-1", SECRET, now=now + 2), KEYS)
    assert not is_revoked(later)


def test_revoking_twice_moves_the_time_and_old_rows_are_dropped(session):
    revoke_sign_in(session, "shop-rev-3")
    row = session.get(RevokedSignIn, "shop-rev-3")
    row.revoked_at -= REVOCATION_KEPT + timedelta(minutes=1)
    session.flush()
    stale = int(row.revoked_at.timestamp()) - 10
    revoke_sign_in(session, "shop-rev-4")  # drops rows older than any token's lifetime
    assert session.get(RevokedSignIn, "shop-rev-3") is None
    revoke_sign_in(session, "shop-rev-4")
    assert session.query(RevokedSignIn).count() == 1
    assert not sign_in_revoked(session, "shop-rev-3", stale)
    assert not sign_in_revoked(session, "x" * 500, 0)  # an oversized id reads nothing
