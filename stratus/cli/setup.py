"""First-run set-up: generated secrets, the identity bootstrap, and clouds.yaml entries."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stratus.runtime import parts
from stratus.runtime.config import registry
from stratus.runtime.generated_secrets import typeable_secret
from stratus.runtime.process import Runtime

DEFAULT_CLOUDS_YAML = Path.home() / ".config" / "openstack" / "clouds.yaml"


@dataclass(frozen=True)
class Credentials:
    admin_password: str
    demo_password: str


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (created with that mode, never widened)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def user_credentials(runtime: Runtime) -> Credentials:
    """The admin and demo passwords: generated once, kept in the data dir (mode 0600)."""
    path = runtime.conf.data_dir / "credentials.json"
    if path.exists():
        stored = json.loads(path.read_text())
        return Credentials(stored["admin_password"], stored["demo_password"])
    created = Credentials(typeable_secret(18), typeable_secret(18))
    _write_private(path, json.dumps(created.__dict__, indent=2) + "\n")
    return created


def service_passwords(runtime: Runtime) -> dict[str, str]:
    """Each enabled service's own password: taken from the config, or generated and
    recorded in ``<config>.d/50-service-credentials.conf`` for every part to read."""
    conf = runtime.conf
    if conf.path is None:
        raise RuntimeError("bootstrap needs a config file to record service credentials in")
    passwords: dict[str, str] = {}
    missing: dict[str, str] = {}
    for service in parts.enabled(runtime):
        if "service_user" not in registry().get(service.section, {}):
            continue
        password = conf.get(service.section, "service_password")
        if not password:
            password = missing[service.section] = typeable_secret(18)
        passwords[conf.get(service.section, "service_user")] = password
    if missing:
        fragment = conf.path.with_name(conf.path.name + ".d") / "50-service-credentials.conf"
        existing = fragment.read_text() if fragment.exists() else ""
        added = "".join(
            f"\n[{section}]\nservice_password = {password}\n"
            for section, password in missing.items()
        )
        _write_private(fragment, existing + added)
    return passwords


def clouds_entries(runtime: Runtime, creds: Credentials) -> dict[str, Any]:
    auth_url = runtime.conf.service_auth.auth_url
    region = runtime.conf.get("DEFAULT", "region_name")

    def entry(user: str, password: str, project: str) -> dict[str, Any]:
        return {
            "auth": {
                "auth_url": auth_url,
                "username": user,
                "password": password,
                "project_name": project,
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
            "region_name": region,
            "interface": "public",
            "identity_api_version": 3,
        }

    return {
        "stratus": entry("admin", creds.admin_password, "admin"),
        "stratus-demo": entry("demo", creds.demo_password, "demo"),
    }


def write_clouds_yaml(path: Path, entries: dict[str, Any]) -> None:
    """Add or replace our entries in clouds.yaml, keeping every other cloud in it."""
    import yaml  # only bootstrap writes clouds.yaml: not loaded into the running cloud

    document: dict[str, Any] = {}
    if path.exists():
        document = yaml.safe_load(path.read_text()) or {}
    document.setdefault("clouds", {}).update(entries)
    _write_private(path, yaml.safe_dump(document, sort_keys=False))


def bootstrap(
    runtime: Runtime, clouds_yaml: Path | None, image_manifests: Sequence[Path] = ()
) -> Credentials:
    """Create (or confirm) everything a new cloud needs; safe to run again.
    ``image_manifests`` describe the default public images (see :mod:`stratus.image.seed`)."""
    from stratus.identity.bootstrap import CatalogEntry
    from stratus.identity.bootstrap import bootstrap as identity_bootstrap

    creds = user_credentials(runtime)
    endpoints = [
        CatalogEntry(s.service_type, s.catalog_name, parts.endpoint_url(runtime, s))
        for s in parts.enabled(runtime)
    ]
    admin_project = identity_bootstrap(
        runtime,
        admin_password=creds.admin_password,
        demo_password=creds.demo_password,
        service_passwords=service_passwords(runtime),
        endpoints=endpoints,
        region=runtime.conf.get("DEFAULT", "region_name"),
    )
    enabled = runtime.conf.get("DEFAULT", "enabled_services")
    if "network" in enabled:
        from stratus.network.public import ensure_public_network

        ensure_public_network(runtime, admin_project)
    if "image" in enabled and image_manifests:
        from stratus.image.seed import register_manifests

        register_manifests(runtime, admin_project, image_manifests)
    if "compute" in enabled:
        from stratus.compute.flavors import create_default_flavors

        create_default_flavors(runtime)
    if clouds_yaml is not None:
        write_clouds_yaml(clouds_yaml, clouds_entries(runtime, creds))
    return creds
