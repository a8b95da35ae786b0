"""Password and secret hashes."""

from __future__ import annotations

import pytest

from stratus.identity.passwords import hash_password, verify_password

COST = 4


def test_hash_verifies_the_password_and_nothing_else() -> None:
    stored = hash_password("correct horse", COST)
    assert verify_password("correct horse", stored, COST)
    assert not verify_password("correct horsE", stored, COST)
    assert not verify_password("", stored, COST)


def test_hashes_are_salted_and_hold_no_password() -> None:
    first, second = hash_password("same", COST), hash_password("same", COST)
    assert first != second
    assert "same" not in first
    assert first.startswith(f"scrypt${COST}$8$1$")


def test_a_hash_keeps_its_own_cost() -> None:
    stored = hash_password("pw", 5)
    assert verify_password("pw", stored, cost=14)


def test_unicode_passwords() -> None:
    stored = hash_password("pässwörd-密码", COST)
    assert verify_password("pässwörd-密码", stored, COST)


@pytest.mark.parametrize(
    "stored",
    [None, "", "plain", "bcrypt$4$8$1$AAAA$AAAA", "scrypt$x$8$1$AAAA$AAAA", "scrypt$4$8$1$!!$??"],
)
def test_missing_or_unreadable_hashes_never_verify(stored: str | None) -> None:
    assert not verify_password("pw", stored, COST)
