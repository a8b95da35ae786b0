"""Password and secret hashing with scrypt: salted, memory-hard, verified in constant time.

A hash records its own parameters (``scrypt$<log2 N>$<r>$<p>$<salt>$<key>``), so raising
the configured cost applies to new hashes while older ones keep verifying.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

BLOCK_SIZE = 8
PARALLELISM = 1
SALT_BYTES = 16
KEY_BYTES = 32
MAX_PASSWORD_LENGTH = 4096


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _derive(secret: str, salt: bytes, cost: int, r: int, p: int) -> bytes:
    n = 1 << cost
    return hashlib.scrypt(
        secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r * p, dklen=KEY_BYTES
    )


def hash_password(secret: str, cost: int) -> str:
    """A new salted hash of ``secret`` at the given cost (log2 of scrypt's N)."""
    salt = os.urandom(SALT_BYTES)
    key = _derive(secret, salt, cost, BLOCK_SIZE, PARALLELISM)
    return f"scrypt${cost}${BLOCK_SIZE}${PARALLELISM}${_b64(salt)}${_b64(key)}"


def verify_password(secret: str, stored: str | None, cost: int) -> bool:
    """Whether ``secret`` matches ``stored``. With no stored hash (no such user, or a user
    without a password) the same work is done and the answer is no, so that timing does
    not tell which users exist."""
    if stored is None:
        _derive(secret, b"\0" * SALT_BYTES, cost, BLOCK_SIZE, PARALLELISM)
        return False
    try:
        scheme, cost_text, r_text, p_text, salt_text, key_text = stored.split("$")
        if scheme != "scrypt":
            return False
        key = _derive(secret, _unb64(salt_text), int(cost_text), int(r_text), int(p_text))
    except ValueError:
        return False
    return hmac.compare_digest(key, _unb64(key_text))
