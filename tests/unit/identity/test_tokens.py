"""Token payloads, the Fernet key repository and rotation."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from stratus.identity.keys import KeyRepository
from stratus.identity.tokens import (
    InvalidToken,
    TokenCodec,
    TokenPayload,
    new_audit_id,
    pack,
    rotate_keys,
    unpack,
)
from stratus.runtime.config import Config, ConfigError

NOW = datetime(2026, 3, 4, 5, 6, 7, 891011)
HEX = "0123456789abcdef0123456789abcdef"


def payload(**changes: object) -> TokenPayload:
    fields: dict[str, object] = {
        "user_id": HEX,
        "methods": ("password",),
        "issued_at": NOW,
        "expires_at": NOW.replace(microsecond=0) + timedelta(hours=1),
        "audit_ids": (new_audit_id(),),
        "project_id": "fedcba9876543210fedcba9876543210",
    }
    fields.update(changes)
    return TokenPayload(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"project_id": None},
        {"project_id": None, "domain_id": "default"},
        {"user_id": "not-a-uuid", "project_id": "ABCDEF0123456789ABCDEF0123456789"},
        {"methods": ("password", "token"), "audit_ids": (new_audit_id(), new_audit_id())},
        {"methods": ("application_credential",), "app_cred_id": HEX},
    ],
)
def test_payload_round_trip(changes: dict[str, object]) -> None:
    original = payload(**changes)
    assert unpack(pack(original)) == original


def test_payload_is_compact() -> None:
    assert len(pack(payload())) < 100


def test_issued_at_keeps_microseconds() -> None:
    assert unpack(pack(payload())).issued_at.microsecond == NOW.microsecond


@pytest.mark.parametrize(
    "data",
    [b"", b"\x01", b"\x02\x01\x01", pack(payload())[:-3], pack(payload()) + b"x", b"\x01\x01\x09"],
)
def test_malformed_payloads_are_invalid(data: bytes) -> None:
    with pytest.raises(InvalidToken):
        unpack(data)


def test_audit_ids_look_like_keystones() -> None:
    audit_id = new_audit_id()
    assert len(audit_id) == 22 and "=" not in audit_id and audit_id != new_audit_id()


@pytest.fixture
def repository(tmp_path: Path) -> KeyRepository:
    return KeyRepository(tmp_path / "keys", max_active_keys=3)


def test_keys_are_created_on_first_use(repository: KeyRepository) -> None:
    assert not repository.path.exists()
    repository.fernet()
    assert repository.numbers() == [0, 1]
    assert stat.S_IMODE(repository.path.stat().st_mode) == 0o700
    for number in (0, 1):
        key_file = repository.path / str(number)
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        Fernet(key_file.read_bytes())  # a valid key


def test_rotation_promotes_the_staged_key(repository: KeyRepository) -> None:
    repository.fernet()
    staged = (repository.path / "0").read_bytes()
    repository.rotate()
    assert repository.numbers() == [0, 1, 2]
    assert (repository.path / "2").read_bytes() == staged
    assert (repository.path / "0").read_bytes() != staged


def test_rotation_keeps_max_active_keys(repository: KeyRepository) -> None:
    for _ in range(5):
        repository.rotate()
    assert repository.numbers() == [0, 5, 6]


def test_old_tokens_stay_valid_until_their_key_is_dropped(repository: KeyRepository) -> None:
    codec = TokenCodec(repository)
    token = codec.encode(payload())
    repository.rotate()  # [0, 1, 2]: the token's key 1 is now secondary
    assert codec.decode(token) == payload(audit_ids=codec.decode(token).audit_ids)
    repository.rotate()  # [0, 2, 3]: key 1 is gone
    with pytest.raises(InvalidToken):
        codec.decode(token)


def test_a_token_from_the_staged_key_is_accepted(repository: KeyRepository, tmp_path: Path) -> None:
    """Another API process may already encrypt with the key this one has staged."""
    repository.fernet()
    ahead = KeyRepository(tmp_path / "ahead", max_active_keys=3)
    ahead.path.mkdir(mode=0o700)
    (ahead.path / "0").write_bytes(Fernet.generate_key())
    (ahead.path / "1").write_bytes((repository.path / "0").read_bytes())
    token = TokenCodec(ahead).encode(payload())
    assert TokenCodec(repository).decode(token).user_id == HEX


def test_a_rotation_by_another_process_is_noticed(repository: KeyRepository) -> None:
    codec = TokenCodec(repository)
    codec.encode(payload())
    other = KeyRepository(repository.path, max_active_keys=3)
    other.rotate()
    token = TokenCodec(other).encode(payload())  # with the new primary, key 2
    assert codec.decode(token).user_id == HEX


def test_rotate_keys_from_config(tmp_path: Path) -> None:
    conf = Config(None, {"DEFAULT": {"data_dir": str(tmp_path)}})
    rotate_keys(conf)
    assert KeyRepository.from_conf(conf).numbers() == [0, 1, 2]
    assert (tmp_path / "fernet-keys").is_dir()


def test_max_active_keys_below_two_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="max_active_keys"):
        KeyRepository(tmp_path, max_active_keys=1)


@pytest.mark.parametrize(
    "token", ["", "garbage", "x" * 2000, "gAAAAABé", Fernet.generate_key().decode()]
)
def test_codec_rejects_what_it_did_not_write(repository: KeyRepository, token: str) -> None:
    with pytest.raises(InvalidToken):
        TokenCodec(repository).decode(token)


def test_tokens_carry_no_padding(repository: KeyRepository) -> None:
    token = TokenCodec(repository).encode(payload())
    assert "=" not in token and len(token) < 255


def test_a_tampered_token_is_invalid(repository: KeyRepository) -> None:
    token = TokenCodec(repository).encode(payload())
    tampered = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    with pytest.raises(InvalidToken):
        TokenCodec(repository).decode(tampered)
