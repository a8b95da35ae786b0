"""Key pair material: fingerprints of imported public keys, and generated key pairs."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SSH = "ssh"
X509 = "x509"
RSA_BITS = 2048
CERT_DAYS = 3650
SSH_KEY_TYPES = (
    "ssh-rsa",
    "ssh-dss",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)


class InvalidKey(ValueError):
    """The public key (or certificate) cannot be read."""


@dataclass(frozen=True)
class Generated:
    public_key: str
    private_key: str
    fingerprint: str


def _colons(digest: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in digest)


def fingerprint(public_key: str, key_type: str = SSH) -> str:
    """MD5 of an OpenSSH key's blob, or SHA-1 of a certificate's DER, as colon hex."""
    if key_type == X509:
        # cryptography's X.509 modules (2 MB resident): only for the rare x509 key pairs
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        try:
            cert = x509.load_pem_x509_certificate(public_key.strip().encode())
        except ValueError as exc:
            raise InvalidKey("the certificate is not a PEM X.509 certificate") from exc
        return _colons(cert.fingerprint(hashes.SHA1()))  # noqa: S303 - what Nova shows
    parts = public_key.strip().split()
    if len(parts) < 2 or parts[0] not in SSH_KEY_TYPES:
        raise InvalidKey("the public key is not an OpenSSH public key")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidKey("the public key's data is not base64") from exc
    if not blob.startswith(len(parts[0]).to_bytes(4, "big") + parts[0].encode()):
        raise InvalidKey("the public key's data does not match its type")
    return _colons(hashlib.md5(blob, usedforsecurity=False).digest())


def generate(key_type: str, owner: str) -> Generated:
    """A new RSA key pair: an OpenSSH public key, or a self-signed certificate for x509."""
    # cryptography's key and X.509 modules (2 MB resident): only when a key pair is made
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    if key_type == X509:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, owner or "stratus")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=CERT_DAYS))
            .sign(key, hashes.SHA256())
        )
        public = cert.public_bytes(serialization.Encoding.PEM).decode()
    else:
        public = (
            key.public_key()
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode()
            + " Generated-by-Stratus"
        )
    return Generated(public, private, fingerprint(public, key_type))
