"""Key pairs: import, generate, per user, microversion differences, bad input."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from stratus.compute import keys
from tests.api.compute.conftest import Env


def _ed25519() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def test_import_list_show_delete(env: Env) -> None:
    public = _ed25519()
    created = env.call(
        "POST", "/os-keypairs", json={"keypair": {"name": "k1", "public_key": public}}
    )
    assert created.status_code == 200  # 2.1
    body = created.json()["keypair"]
    assert body["fingerprint"] == keys.fingerprint(public) and "private_key" not in body
    assert "type" not in body
    listed = env.ok("GET", "/os-keypairs", version="2.2")["keypairs"]
    assert listed == [
        {
            "keypair": {
                "name": "k1",
                "public_key": public,
                "fingerprint": body["fingerprint"],
                "type": "ssh",
            }
        }
    ]
    shown = env.ok("GET", "/os-keypairs/k1")["keypair"]
    assert shown["user_id"] == env.users["demo"].user_id and shown["deleted"] is False
    assert env.ok("GET", "/os-keypairs", "other")["keypairs"] == []
    assert env.call("GET", "/os-keypairs/k1", "other").status_code == 404
    assert env.call("DELETE", "/os-keypairs/k1", version="2.2").status_code == 204
    assert env.call("DELETE", "/os-keypairs/k1").status_code == 404


def test_generate_types_and_status_codes(env: Env) -> None:
    response = env.call("POST", "/os-keypairs", json={"keypair": {"name": "gen"}}, version="2.2")
    assert response.status_code == 201
    body = response.json()["keypair"]
    assert body["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert body["public_key"].startswith("ssh-rsa ") and body["type"] == "ssh"
    x509 = env.call(
        "POST", "/os-keypairs", json={"keypair": {"name": "cert", "type": "x509"}}, version="2.2"
    )
    assert x509.status_code == 201
    cert = x509.json()["keypair"]
    assert cert["public_key"].startswith("-----BEGIN CERTIFICATE-----")
    assert cert["fingerprint"] == keys.fingerprint(cert["public_key"], "x509")
    assert env.call("DELETE", "/os-keypairs/gen").status_code == 202


def test_admin_manages_other_users_keys_from_2_10(env: Env) -> None:
    demo = env.users["demo"].user_id
    body = {"keypair": {"name": "for-demo", "public_key": _ed25519(), "user_id": demo}}
    assert env.call("POST", "/os-keypairs", "admin", json=body).status_code == 400  # 2.1
    assert env.call("POST", "/os-keypairs", "other", json=body, version="2.10").status_code == 403
    created = env.ok("POST", "/os-keypairs", "admin", 201, json=body, version="2.10")["keypair"]
    assert created["user_id"] == demo
    assert env.ok("GET", "/os-keypairs/for-demo")["keypair"]["name"] == "for-demo"
    listed = env.ok("GET", "/os-keypairs", "admin", params={"user_id": demo}, version="2.10")
    assert [k["keypair"]["name"] for k in listed["keypairs"]] == ["for-demo"]
    assert (
        env.call(
            "GET", "/os-keypairs", "other", params={"user_id": demo}, version="2.10"
        ).status_code
        == 403
    )


def test_bad_key_pairs(env: Env) -> None:
    public = _ed25519()
    cases = [
        {"keypair": {"name": "bad/name", "public_key": public}},
        {"keypair": {"name": "", "public_key": public}},
        {"keypair": {"name": "x", "public_key": "ssh-rsa not-base64!"}},
        {"keypair": {"name": "x", "public_key": "garbage"}},
        {"keypair": {"name": "x", "public_key": public, "type": "pgp"}},
        {"keypair": {"name": "x", "extra": 1}},
        {"name": "x"},
    ]
    for body in cases:
        assert env.call("POST", "/os-keypairs", json=body, version="2.2").status_code == 400, body
    env.ok("POST", "/os-keypairs", json={"keypair": {"name": "dup", "public_key": public}})
    dup = env.call("POST", "/os-keypairs", json={"keypair": {"name": "dup", "public_key": public}})
    assert dup.status_code == 409 and "conflictingRequest" in dup.json()


def test_paging_from_2_35(env: Env) -> None:
    for name in ("a", "b", "c"):
        env.ok("POST", "/os-keypairs", json={"keypair": {"name": name, "public_key": _ed25519()}})
    page = env.ok("GET", "/os-keypairs", params={"limit": 2}, version="2.35")
    assert [k["keypair"]["name"] for k in page["keypairs"]] == ["a", "b"]
    assert "marker=b" in page["keypairs_links"][0]["href"]
    rest = env.ok("GET", "/os-keypairs", params={"marker": "b"}, version="2.35")
    assert [k["keypair"]["name"] for k in rest["keypairs"]] == ["c"]
    unpaged = env.ok("GET", "/os-keypairs", params={"limit": 1})
    assert len(unpaged["keypairs"]) == 3


def test_key_pair_quota(env: Env) -> None:
    demo = env.users["demo"].project_id
    env.ok("PUT", f"/os-quota-sets/{demo}", "admin", json={"quota_set": {"key_pairs": 1}})
    env.ok("POST", "/os-keypairs", json={"keypair": {"name": "one", "public_key": _ed25519()}})
    over = env.call(
        "POST", "/os-keypairs", json={"keypair": {"name": "two", "public_key": _ed25519()}}
    )
    assert over.status_code == 403 and "Quota exceeded" in over.json()["forbidden"]["message"]
