"""Shop-login password hashes (``bot/store/passwords.py``): bcrypt, never plain text."""

from __future__ import annotations

import pytest

from bot.store.passwords import MAX_BYTES, check_password, hash_password


def test_a_hash_is_salted_bcrypt_and_checks_only_its_password():
    first, second = hash_password("alice-demo"), hash_password("alice-demo")
    assert first.startswith("$2b$12$") and len(first) == 60 and first != second
    assert "alice-demo" not in first
    assert check_password("alice-demo", first) and check_password("alice-demo", second)
    assert not check_password("alice-demo ", first) and not check_password("", first)


@pytest.mark.parametrize("stored", [None, "", "plain", "scrypt$16384$8$1$00$00", "$2b$12$short"])
def test_missing_or_malformed_hashes_never_match(stored):
    assert not check_password("alice-demo", stored)


def test_passwords_bcrypt_would_cut_are_refused():
    too_long = "é" * (MAX_BYTES // 2 + 1)  # 74 bytes in UTF-8
    with pytest.raises(ValueError):
        hash_password(too_long)
    assert not check_password(too_long, hash_password(too_long[: MAX_BYTES // 2]))
