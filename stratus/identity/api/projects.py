"""``/v3/projects``. Projects sit directly in their domain (``parent_id`` is the domain):
Stratus has no project hierarchies."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from stratus.identity import assignments, revocations
from stratus.identity.api import views
from stratus.identity.api.common import (
    Body,
    Closed,
    Description,
    IdRef,
    Patch,
    Tags,
    apply,
    collection,
    fetch,
    listing,
    name_type,
    query_bool,
    query_filters,
    save,
    service,
    transaction,
)
from stratus.identity.api.policy import allowed, enforce_visible
from stratus.identity.models import PROJECT_NAME_LENGTH, Domain, Project, User
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, NotFound
from stratus.runtime.api.routing import Router
from stratus.runtime.api.validation import json_body

router = Router(prefix="/v3/projects", tags=["projects"])
ProjectName = name_type(PROJECT_NAME_LENGTH)


class ProjectCreate(Body):
    name: ProjectName
    domain_id: IdRef | None = None
    parent_id: IdRef | None = None
    description: Description = None
    enabled: bool = True
    is_domain: bool = False
    tags: Tags = []


class ProjectUpdate(Patch):
    not_null = ("name", "enabled", "tags")

    name: ProjectName | None = None
    description: Description = None
    enabled: bool | None = None
    tags: Tags | None = None


class CreateProjectRequest(Closed):
    project: ProjectCreate


class UpdateProjectRequest(Closed):
    project: ProjectUpdate


def not_found(project_id: str) -> NotFound:
    return NotFound(f"Could not find project: {project_id}.")


def remove_project(session: Session, project: Project, lifetime: int) -> None:
    """Delete a project with its grants and application credentials; revoke its tokens."""
    assignments.forget(session, project.id)
    session.execute(
        sa.update(User).where(User.default_project_id == project.id).values(default_project_id=None)
    )
    revocations.revoke_project(session, project.id, lifetime)
    session.delete(project)


def _domain_for(session: Session, ctx: RequestContext, body: ProjectCreate) -> str:
    domain_id = body.domain_id or body.parent_id or ctx.project_domain_id or ctx.domain_id
    domain_id = domain_id or "default"
    if session.get(Domain, domain_id) is None:
        raise BadRequest(f"Could not find domain: {domain_id}.")
    if body.parent_id is not None and body.parent_id != domain_id:
        raise BadRequest(
            "parent_id must be the project's domain: project hierarchies are not supported."
        )
    return domain_id


@router.post("", status_code=201, summary="Create a project")
def create_project(
    request: Request,
    ctx: RequestContext = Depends(allowed("create_project")),
    body: CreateProjectRequest = Depends(json_body(CreateProjectRequest)),
) -> dict[str, Any]:
    data = body.project
    if data.is_domain:
        raise BadRequest("Projects acting as domains are not supported; create a domain.")
    with transaction(request) as session:
        project = Project(
            name=data.name,
            domain_id=_domain_for(session, ctx, data),
            description=data.description,
            enabled=data.enabled,
            tags=list(data.tags),
            extra=data.extras(),
        )
        save(session, project, f"project {data.name!r} in domain {project.domain_id}")
        return {"project": views.project(request, project)}


@router.get("", summary="List projects")
def list_projects(
    request: Request, ctx: RequestContext = Depends(allowed("list_projects"))
) -> dict[str, Any]:
    filters = query_filters(request, Project, ("name", "domain_id", "enabled"))
    parent_id = request.query_params.get("parent_id")
    if parent_id is not None:
        filters.append(Project.domain_id == parent_id)
    if query_bool("is_domain", request.query_params.get("is_domain", "false")):
        filters.append(sa.false())
    with transaction(request) as session:
        rows, marker = listing(request, session, Project, filters)
        return collection(request, "projects", [views.project(request, p) for p in rows], marker)


@router.get("/{project_id}", summary="Show a project")
def get_project(
    request: Request, project_id: str, ctx: RequestContext = Depends(authenticated)
) -> dict[str, Any]:
    enforce_visible(ctx, "get_project", not_found(project_id), project_id=project_id)
    with transaction(request) as session:
        project = fetch(session, Project, project_id, "project")
        return {"project": views.project(request, project)}


@router.patch("/{project_id}", summary="Update a project")
def update_project(
    request: Request,
    project_id: str,
    ctx: RequestContext = Depends(allowed("update_project")),
    body: UpdateProjectRequest = Depends(json_body(UpdateProjectRequest)),
) -> dict[str, Any]:
    data = body.project
    for fixed in ("domain_id", "parent_id", "is_domain"):
        if fixed in data.extras():
            raise BadRequest(f"{fixed} of a project cannot be changed.")
    with transaction(request) as session:
        project = fetch(session, Project, project_id, "project")
        was_enabled = project.enabled
        apply(project, data, ("name", "description", "enabled", "tags"))
        project.extra = data.merge_into(project.extra)
        save(session, project, f"project {project.name!r} in domain {project.domain_id}")
        if was_enabled and not project.enabled:
            revocations.revoke_project(session, project.id, service(request).token_lifetime)
        return {"project": views.project(request, project)}


@router.delete("/{project_id}", status_code=204, summary="Delete a project")
def delete_project(
    request: Request,
    project_id: str,
    ctx: RequestContext = Depends(allowed("delete_project")),
) -> Response:
    with transaction(request) as session:
        project = fetch(session, Project, project_id, "project")
        remove_project(session, project, service(request).token_lifetime)
    return Response(status_code=204)
