"""Entities as the Keystone v3 API shows them: extra attributes first, so that the
fields Stratus owns always win, and a ``links.self`` on each."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from stratus.identity.api.common import links
from stratus.identity.models import (
    ApplicationCredential,
    Domain,
    Endpoint,
    Group,
    Project,
    Region,
    Role,
    Service,
    User,
)
from stratus.identity.times import isotime


def domain(request: Request, row: Domain) -> dict[str, Any]:
    return {
        **row.extra,
        "id": row.id,
        "name": row.name,
        "description": row.description or "",
        "enabled": row.enabled,
        "tags": list(row.tags),
        "options": {},
        "links": links(request, "domains", row.id),
    }


def project(request: Request, row: Project) -> dict[str, Any]:
    return {
        **row.extra,
        "id": row.id,
        "name": row.name,
        "domain_id": row.domain_id,
        "parent_id": row.domain_id,
        "description": row.description or "",
        "enabled": row.enabled,
        "is_domain": False,
        "tags": list(row.tags),
        "options": {},
        "links": links(request, "projects", row.id),
    }


def user(request: Request, row: User) -> dict[str, Any]:
    rendered = {
        **row.extra,
        "id": row.id,
        "name": row.name,
        "domain_id": row.domain_id,
        "enabled": row.enabled,
        "password_expires_at": None,
        "options": {},
        "links": links(request, "users", row.id),
    }
    if row.default_project_id:
        rendered["default_project_id"] = row.default_project_id
    return rendered


def group(request: Request, row: Group) -> dict[str, Any]:
    return {
        **row.extra,
        "id": row.id,
        "name": row.name,
        "domain_id": row.domain_id,
        "description": row.description or "",
        "links": links(request, "groups", row.id),
    }


def role(request: Request, row: Role) -> dict[str, Any]:
    return {
        **row.extra,
        "id": row.id,
        "name": row.name,
        "domain_id": None,
        "description": row.description,
        "options": {},
        "links": links(request, "roles", row.id),
    }


def application_credential(
    request: Request, row: ApplicationCredential, roles: list[Role]
) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "user_id": row.user_id,
        "project_id": row.project_id,
        "expires_at": isotime(row.expires_at) if row.expires_at else None,
        "unrestricted": row.unrestricted,
        "roles": [{"id": r.id, "name": r.name, "domain_id": None} for r in roles],
        "access_rules": [],
        "links": links(request, "users", row.user_id, "application_credentials", row.id),
    }


def region(request: Request, row: Region) -> dict[str, Any]:
    return {
        **row.extra,
        "id": row.id,
        "description": row.description or "",
        "parent_region_id": row.parent_region_id,
        "links": links(request, "regions", row.id),
    }


def service(request: Request, row: Service) -> dict[str, Any]:
    return {
        **row.extra,
        "id": row.id,
        "type": row.type,
        "name": row.name,
        "description": row.description,
        "enabled": row.enabled,
        "links": links(request, "services", row.id),
    }


def endpoint(request: Request, row: Endpoint) -> dict[str, Any]:
    return {
        **row.extra,
        "id": row.id,
        "interface": row.interface,
        "region": row.region_id,
        "region_id": row.region_id,
        "service_id": row.service_id,
        "url": row.url,
        "enabled": row.enabled,
        "links": links(request, "endpoints", row.id),
    }
