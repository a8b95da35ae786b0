"""``/v3/domains``."""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from stratus.identity import assignments, revocations
from stratus.identity.api import views
from stratus.identity.api.common import (
    Body,
    Closed,
    Description,
    Patch,
    Tags,
    apply,
    collection,
    fetch,
    listing,
    name_type,
    query_filters,
    save,
    service,
    transaction,
)
from stratus.identity.api.groups import remove_group
from stratus.identity.api.policy import allowed, enforce_visible
from stratus.identity.api.projects import remove_project
from stratus.identity.api.users import remove_user
from stratus.identity.models import DOMAIN_NAME_LENGTH, Domain, Group, Project, User
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import Forbidden, NotFound
from stratus.runtime.api.routing import Router
from stratus.runtime.api.validation import json_body

router = Router(prefix="/v3/domains", tags=["domains"])
DomainName = name_type(DOMAIN_NAME_LENGTH)


class DomainCreate(Body):
    name: DomainName
    description: Description = None
    enabled: bool = True
    tags: Tags = []


class DomainUpdate(Patch):
    not_null = ("name", "enabled", "tags")

    name: DomainName | None = None
    description: Description = None
    enabled: bool | None = None
    tags: Tags | None = None


class CreateDomainRequest(Closed):
    domain: DomainCreate


class UpdateDomainRequest(Closed):
    domain: DomainUpdate


Row = TypeVar("Row", Project, User, Group)


def _revoke_everything_in(session: Session, domain_id: str, lifetime: int) -> None:
    """Revoke the tokens of every user and project of the domain."""
    for user_id in session.scalars(sa.select(User.id).where(User.domain_id == domain_id)):
        revocations.revoke_user(session, user_id, lifetime)
    for project_id in session.scalars(sa.select(Project.id).where(Project.domain_id == domain_id)):
        revocations.revoke_project(session, project_id, lifetime)


def _members(session: Session, model: type[Row], domain_id: str) -> list[Row]:
    return list(session.scalars(sa.select(model).where(model.domain_id == domain_id)))


@router.post("", status_code=201, summary="Create a domain")
def create_domain(
    request: Request,
    ctx: RequestContext = Depends(allowed("create_domain")),
    body: CreateDomainRequest = Depends(json_body(CreateDomainRequest)),
) -> dict[str, Any]:
    data = body.domain
    with transaction(request) as session:
        domain = Domain(
            name=data.name,
            description=data.description,
            enabled=data.enabled,
            tags=list(data.tags),
            extra=data.extras(),
        )
        save(session, domain, f"domain {data.name!r}")
        return {"domain": views.domain(request, domain)}


@router.get("", summary="List domains")
def list_domains(
    request: Request, ctx: RequestContext = Depends(allowed("list_domains"))
) -> dict[str, Any]:
    filters = query_filters(request, Domain, ("name", "enabled"))
    with transaction(request) as session:
        rows, marker = listing(request, session, Domain, filters)
        return collection(request, "domains", [views.domain(request, d) for d in rows], marker)


@router.get("/{domain_id}", summary="Show a domain")
def get_domain(
    request: Request, domain_id: str, ctx: RequestContext = Depends(authenticated)
) -> dict[str, Any]:
    missing = NotFound(f"Could not find domain: {domain_id}.")
    enforce_visible(ctx, "get_domain", missing, domain_id=domain_id)
    with transaction(request) as session:
        return {"domain": views.domain(request, fetch(session, Domain, domain_id, "domain"))}


@router.patch("/{domain_id}", summary="Update a domain")
def update_domain(
    request: Request,
    domain_id: str,
    ctx: RequestContext = Depends(allowed("update_domain")),
    body: UpdateDomainRequest = Depends(json_body(UpdateDomainRequest)),
) -> dict[str, Any]:
    data = body.domain
    with transaction(request) as session:
        domain = fetch(session, Domain, domain_id, "domain")
        was_enabled = domain.enabled
        apply(domain, data, ("name", "description", "enabled", "tags"))
        domain.extra = data.merge_into(domain.extra)
        save(session, domain, f"domain {domain.name!r}")
        if was_enabled and not domain.enabled:
            _revoke_everything_in(session, domain.id, service(request).token_lifetime)
        return {"domain": views.domain(request, domain)}


@router.delete("/{domain_id}", status_code=204, summary="Delete a disabled domain")
def delete_domain(
    request: Request,
    domain_id: str,
    ctx: RequestContext = Depends(allowed("delete_domain")),
) -> Response:
    """Deletes the domain with every project, user and group in it."""
    lifetime = service(request).token_lifetime
    with transaction(request) as session:
        domain = fetch(session, Domain, domain_id, "domain")
        if domain.enabled:
            raise Forbidden("Cannot delete a domain that is enabled; disable it first.")
        for project in _members(session, Project, domain.id):
            remove_project(session, project, lifetime)
        for user in _members(session, User, domain.id):
            remove_user(session, user, lifetime)
        for group in _members(session, Group, domain.id):
            remove_group(session, group)
        assignments.forget(session, domain.id)
        session.delete(domain)
    return Response(status_code=204)
