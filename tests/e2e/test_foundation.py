"""The foundation issue's "must work" list, run with the real openstack client against a
cloud started as ``make run`` starts it, in every deployment mode."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

from stratus.testing.cloud import Cloud

pytestmark = pytest.mark.e2e


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_token_issue(cloud: Cloud) -> None:
    token = cloud.openstack("token", "issue", "-f", "json")
    assert token["id"] and token["user_id"] and token["project_id"]
    projects = {p["ID"]: p["Name"] for p in cloud.openstack("project", "list", "-f", "json")}
    assert projects[token["project_id"]] == "admin"


def test_catalog_lists_every_running_service(cloud: Cloud) -> None:
    catalog = {e["Type"]: e for e in cloud.openstack("catalog", "list", "-f", "json")}
    assert set(catalog) >= {"identity", "image"}
    for service, port in cloud.ports.items():
        urls = (
            [e["url"] for e in catalog[service]["Endpoints"]]
            if isinstance(catalog[service]["Endpoints"], list)
            else [catalog[service]["Endpoints"]]
        )
        assert any(f":{port}" in str(url) for url in urls), (service, urls)


def test_project_user_role_and_application_credential(cloud: Cloud) -> None:
    project, user = unique("p1"), unique("u1")
    cloud.openstack("project", "create", project, "-f", "json")
    cloud.openstack(
        "user", "create", "--project", project, "--password", "s3cret", user, "-f", "json"
    )
    cloud.openstack("role", "add", "--project", project, "--user", user, "member")
    assignments = cloud.openstack(
        "role", "assignment", "list", "--user", user, "--project", project, "--names", "-f", "json"
    )
    assert [a["Role"] for a in assignments] == ["member"]

    password_auth = [
        "--os-username",
        user,
        "--os-password",
        "s3cret",
        "--os-project-name",
        project,
        "--os-user-domain-id",
        "default",
        "--os-project-domain-id",
        "default",
    ]
    token = cloud.openstack_with(password_auth, "token", "issue", "-f", "json")
    assert token["user_id"] and token["project_id"]

    credential = cloud.openstack("application", "credential", "create", "ac1", "-f", "json")
    assert credential["Secret"] and credential["ID"]
    credential_auth = [
        "--os-auth-type",
        "v3applicationcredential",
        "--os-application-credential-id",
        credential["ID"],
        "--os-application-credential-secret",
        credential["Secret"],
    ]
    assert cloud.openstack_with(credential_auth, "token", "issue", "-f", "json")["id"]
    cloud.openstack("application", "credential", "delete", "ac1")
    failed = cloud.openstack_with(credential_auth, "token", "issue", check=False)
    assert failed.returncode != 0


def test_image_lifecycle_and_visibility(cloud: Cloud, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    source = tmp_path / "some.qcow2"
    source.write_bytes(data)
    public, private = unique("img1"), unique("private")
    image = cloud.openstack(
        "image",
        "create",
        "--file",
        str(source),
        "--disk-format",
        "qcow2",
        "--container-format",
        "bare",
        "--public",
        public,
        "-f",
        "json",
    )
    assert image["status"] == "active"
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    cloud.openstack("image", "create", "--private", private, "-f", "json")

    names = {i["Name"] for i in cloud.openstack("image", "list", "-f", "json")}
    assert {public, private} <= names
    shown = cloud.openstack("image", "show", public, "-f", "json")
    assert shown["size"] == len(data) and shown["visibility"] == "public"

    saved = tmp_path / "out"
    cloud.openstack("image", "save", "--file", str(saved), public)
    assert saved.read_bytes() == data

    cloud.openstack("image", "set", "--property", "k=v", public)
    properties = cloud.openstack("image", "show", public, "-f", "json")["properties"]
    assert properties["k"] == "v"

    demo_names = {
        i["Name"] for i in cloud.openstack("image", "list", "-f", "json", cloud="stratus-demo")
    }
    assert public in demo_names and private not in demo_names
    refused = cloud.openstack("image", "delete", public, cloud="stratus-demo", check=False)
    assert refused.returncode != 0

    cloud.openstack("image", "delete", private)
    names = {i["Name"] for i in cloud.openstack("image", "list", "-f", "json")}
    assert private not in names and public in names


def test_restart_keeps_everything(cloud: Cloud, tmp_path: Path) -> None:
    project = unique("kept")
    cloud.openstack("project", "create", project, "-f", "json")
    source = tmp_path / "kept.raw"
    source.write_bytes(b"kept image data")
    image = unique("kept-img")
    cloud.openstack(
        "image",
        "create",
        "--file",
        str(source),
        "--disk-format",
        "raw",
        "--container-format",
        "bare",
        image,
        "-f",
        "json",
    )

    cloud.stop()
    cloud.start()

    assert cloud.openstack("project", "show", project, "-f", "json")["name"] == project
    saved = tmp_path / "back"
    cloud.openstack("image", "save", "--file", str(saved), image)
    assert saved.read_bytes() == b"kept image data"
