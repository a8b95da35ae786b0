"""The ``[identity]`` options."""

from __future__ import annotations

from stratus.runtime.config import Opt, register

register(
    "identity",
    Opt("port", 5000, "Port of the identity API (Keystone v3).", int),
    Opt("token_expiration", 3600, "Seconds a token stays valid after it is issued.", int),
    Opt(
        "key_repository",
        "{data_dir}/fernet-keys",
        "Directory of the Fernet keys that sign and encrypt tokens (created on first use).",
    ),
    Opt(
        "max_active_keys",
        3,
        "Fernet keys kept by rotation: the staged, the primary and the older ones that "
        "still validate tokens issued before the last rotations (at least 2).",
        int,
    ),
    Opt(
        "password_hash_cost",
        15,
        "scrypt cost of password and secret hashes, as log2 of N (15: 32 MiB and tens of "
        "milliseconds per hash). Existing hashes keep the cost they were made with.",
        int,
    ),
)
