"""Key pair fingerprints and generated key pairs."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization

from stratus.compute import keys


def test_ssh_fingerprint_is_md5_of_the_blob() -> None:
    generated = keys.generate(keys.SSH, "user")
    blob = base64.b64decode(generated.public_key.split()[1])
    expected = ":".join(f"{b:02x}" for b in hashlib.md5(blob).digest())
    assert generated.fingerprint == expected == keys.fingerprint(generated.public_key)
    private = serialization.load_pem_private_key(generated.private_key.encode(), None)
    ours = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert generated.public_key.startswith(ours.decode())


def test_x509() -> None:
    generated = keys.generate(keys.X509, "user")
    assert generated.public_key.startswith("-----BEGIN CERTIFICATE-----")
    assert keys.fingerprint(generated.public_key, keys.X509) == generated.fingerprint
    assert len(generated.fingerprint.split(":")) == 20


@pytest.mark.parametrize(
    "public_key",
    [
        "",
        "ssh-rsa",
        "ssh-rsa !!!",
        "ssh-foo AAAA",
        # the type inside the blob is not the one named in front
        "ssh-rsa " + base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519xxxx").decode(),
    ],
)
def test_bad_ssh_keys(public_key: str) -> None:
    with pytest.raises(keys.InvalidKey):
        keys.fingerprint(public_key)


def test_bad_certificate() -> None:
    with pytest.raises(keys.InvalidKey):
        keys.fingerprint("not a certificate", keys.X509)
