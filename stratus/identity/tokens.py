"""Fernet tokens: a compact binary payload, encrypted and signed with the key repository.

The payload holds only what cannot be looked up: who (user id, auth methods, application
credential), where (project or domain scope), when (issued, expires) and the audit ids.
Names, roles and the catalog are computed when a token is validated, so a token never
outlives a change to what it grants.
"""

from __future__ import annotations

import base64
import secrets
import struct
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.fernet import InvalidToken as FernetInvalid

from stratus.identity.keys import KeyRepository
from stratus.runtime.config import Config

PAYLOAD_VERSION = 1
METHODS = ("password", "token", "application_credential")
UNSCOPED, PROJECT_SCOPE, DOMAIN_SCOPE = 0, 1, 2
MAX_TOKEN_LENGTH = 1024

_ABSENT, _UUID, _TEXT = 0, 1, 2
_HEADER = struct.Struct(">BBB")
_TIMES = struct.Struct(">qq")
_EPOCH = datetime(1970, 1, 1)


class InvalidToken(Exception):
    """The token cannot be decrypted, or its payload is not one we wrote."""


@dataclass(frozen=True)
class TokenPayload:
    user_id: str
    methods: tuple[str, ...]
    issued_at: datetime  # naive UTC, microseconds kept
    expires_at: datetime  # naive UTC, whole seconds
    audit_ids: tuple[str, ...]
    project_id: str | None = None
    domain_id: str | None = None
    app_cred_id: str | None = None


def new_audit_id() -> str:
    """16 random bytes, URL-safe base64 without padding (22 characters), as Keystone's."""
    return _b64(secrets.token_bytes(16))


def pack(payload: TokenPayload) -> bytes:
    methods = sum(1 << METHODS.index(m) for m in set(payload.methods))
    if payload.project_id is not None:
        scope, scope_id = PROJECT_SCOPE, payload.project_id
    elif payload.domain_id is not None:
        scope, scope_id = DOMAIN_SCOPE, payload.domain_id
    else:
        scope, scope_id = UNSCOPED, None
    parts = [
        _HEADER.pack(PAYLOAD_VERSION, methods, scope),
        _pack_id(payload.user_id),
        _pack_id(scope_id),
        _pack_id(payload.app_cred_id),
        _TIMES.pack(_micros(payload.issued_at), _micros(payload.expires_at) // 1_000_000),
        bytes([len(payload.audit_ids)]),
        *(_unb64(audit_id) for audit_id in payload.audit_ids),
    ]
    return b"".join(parts)


def unpack(data: bytes) -> TokenPayload:
    try:
        version, methods, scope = _HEADER.unpack_from(data)
        if version != PAYLOAD_VERSION or scope not in (UNSCOPED, PROJECT_SCOPE, DOMAIN_SCOPE):
            raise InvalidToken("unknown payload version or scope")
        offset = _HEADER.size
        user_id, offset = _unpack_id(data, offset)
        scope_id, offset = _unpack_id(data, offset)
        app_cred_id, offset = _unpack_id(data, offset)
        issued, expires = _TIMES.unpack_from(data, offset)
        offset += _TIMES.size
        count = data[offset]
        offset += 1
        audit_ids = tuple(_b64(data[offset + 16 * i : offset + 16 * (i + 1)]) for i in range(count))
        if user_id is None or offset + 16 * count != len(data):
            raise InvalidToken("malformed payload")
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise InvalidToken("malformed payload") from exc
    return TokenPayload(
        user_id=user_id,
        methods=tuple(m for i, m in enumerate(METHODS) if methods & (1 << i)),
        issued_at=_from_micros(issued),
        expires_at=_from_micros(expires * 1_000_000),
        audit_ids=audit_ids,
        project_id=scope_id if scope == PROJECT_SCOPE else None,
        domain_id=scope_id if scope == DOMAIN_SCOPE else None,
        app_cred_id=app_cred_id,
    )


class TokenCodec:
    """Token strings from payloads and back, with the repository's current keys."""

    def __init__(self, keys: KeyRepository) -> None:
        self.keys = keys

    def encode(self, payload: TokenPayload) -> str:
        return self.keys.fernet().encrypt(pack(payload)).decode().rstrip("=")

    def decode(self, token: str) -> TokenPayload:
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise InvalidToken("not a token")
        padded = token + "=" * (-len(token) % 4)
        try:
            data = self.keys.fernet().decrypt(padded.encode())
        except FernetInvalid as exc:
            raise InvalidToken("bad signature or unknown key") from exc
        return unpack(data)


def rotate_keys(conf: Config) -> None:
    """Promote the staged key, stage a new one, drop the oldest beyond max_active_keys
    (``stratus identity rotate-keys``). Running API processes notice on their next token."""
    KeyRepository.from_conf(conf).rotate()


def _pack_id(value: str | None) -> bytes:
    if value is None:
        return bytes([_ABSENT])
    if len(value) == 32 and value == value.lower():
        try:
            return bytes([_UUID]) + uuid.UUID(hex=value).bytes
        except ValueError:
            pass
    encoded = value.encode()
    if len(encoded) > 255:
        raise ValueError(f"id {value!r} is too long for a token")
    return bytes([_TEXT, len(encoded)]) + encoded


def _unpack_id(data: bytes, offset: int) -> tuple[str | None, int]:
    tag = data[offset]
    if tag == _ABSENT:
        return None, offset + 1
    if tag == _UUID:
        raw = data[offset + 1 : offset + 17]
        if len(raw) != 16:
            raise InvalidToken("truncated id")
        return uuid.UUID(bytes=raw).hex, offset + 17
    if tag == _TEXT:
        length = data[offset + 1]
        end = offset + 2 + length
        if end > len(data):
            raise InvalidToken("truncated id")
        return data[offset + 2 : end].decode(), end
    raise InvalidToken("unknown id encoding")


def _micros(moment: datetime) -> int:
    return (moment.replace(tzinfo=None) - _EPOCH) // timedelta(microseconds=1)


def _from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if len(raw) != 16:
        raise ValueError(f"audit id {text!r} is not 16 bytes")
    return raw
