"""Identity tokens: what verifies, and everything that must not."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bot.identity.metadata import VERIFIED_CUSTOMER, stamp, verified_customer
from bot.identity.tokens import IdentityError, IdentityKeys, mint, verify

SECRET = "identity-secret-for-tests-0123456789"
KEYS = IdentityKeys(secret=SECRET)


def test_a_minted_token_verifies():
    token = mint(7, "shop-conversation-1", SECRET, ttl_s=600)
    identity = verify(token, KEYS)
    assert (identity.customer_id, identity.conversation_id) == (7, "shop-conversation-1")
    assert identity.expires_at - time.time() == pytest.approx(600, abs=5)
    assert identity.token_id != verify(mint(7, "shop-conversation-1", SECRET), KEYS).token_id


def test_a_tampered_signature_or_payload_is_refused():
    token = mint(7, "shop-conversation-1", SECRET)
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    other = mint(8, "shop-conversation-1", SECRET).split(".")[1]
    for bad in (f"{header}.{payload}.{flipped}", f"{header}.{other}.{signature}",
                mint(7, "shop-conversation-1", "another-secret-for-tests-0123456789")):
        with pytest.raises(IdentityError) as refused:
            verify(bad, KEYS)
        assert refused.value.reason == "invalid"


def test_an_expired_token_is_refused():
    token = mint(7, "shop-conversation-1", SECRET, ttl_s=60, now=time.time() - 120)
    with pytest.raises(IdentityError) as refused:
        verify(token, KEYS)
    assert refused.value.reason == "expired"


@pytest.mark.parametrize("claims,problem", [
    ({"exp_extra": 3600}, "lifetime"),
    ({"purpose": "widget-resume"}, "purpose"),
    ({"sid": "telegram:42"}, "sid"),
    ({"sub": "alice"}, "sub"),
    ({"drop": "jti"}, "jti"),
])
def test_claims_that_are_not_an_identity_are_refused(claims, problem):
    now = int(time.time())
    body = {"sub": "7", "sid": "shop-conversation-1", "iat": now, "exp": now + 600,
            "jti": "abc", "purpose": "identity"}
    body["exp"] += claims.pop("exp_extra", 0)
    body.pop(claims.pop("drop", ""), None)
    body.update(claims)
    with pytest.raises(IdentityError):
        verify(jwt.encode(body, SECRET, algorithm="HS256"), KEYS)


def test_unsigned_and_unconfigured_are_refused():
    now = int(time.time())
    body = {"sub": "7", "sid": "shop-conversation-1", "iat": now, "exp": now + 600,
            "jti": "abc", "purpose": "identity"}
    with pytest.raises(IdentityError):
        verify(jwt.encode(body, None, algorithm="none"), KEYS)
    with pytest.raises(IdentityError):
        verify(mint(7, "shop-conversation-1", SECRET), IdentityKeys())
    for junk in (None, 42, "", "a.b.c", "x" * 5000):
        with pytest.raises(IdentityError):
            verify(junk, KEYS)


def test_an_ed25519_token_verifies_with_the_public_key_only():
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    now = int(time.time())
    body = {"sub": "7", "sid": "shop-conversation-1", "iat": now, "exp": now + 600,
            "jti": "abc", "purpose": "identity"}
    token = jwt.encode(body, private, algorithm="EdDSA")
    assert verify(token, IdentityKeys(public_key=public)).customer_id == 7
    with pytest.raises(IdentityError):  # no secret to check an HS256 token with
        verify(mint(7, "shop-conversation-1", SECRET), IdentityKeys(public_key=public))
    # the public key used as an HS256 secret (algorithm confusion) is refused
    confused = jwt.encode(body, SECRET, algorithm="HS256")
    with pytest.raises(IdentityError):
        verify(confused, IdentityKeys(public_key=public))


def test_the_channel_stamp_overwrites_what_a_client_sent():
    claimed = {VERIFIED_CUSTOMER: 1, "other": "kept"}
    assert stamp(dict(claimed), None) == {"other": "kept"}
    assert stamp(dict(claimed), 2)[VERIFIED_CUSTOMER] == 2
    events = [{"event": "user", "metadata": {VERIFIED_CUSTOMER: 2}},
              {"event": "bot"}, {"event": "user", "metadata": {}}]
    assert verified_customer(events) is None
    assert verified_customer(events[:2]) == 2
    assert verified_customer([{"event": "user", "metadata": {VERIFIED_CUSTOMER: True}}]) is None
