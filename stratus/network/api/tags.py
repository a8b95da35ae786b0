"""``/v2.0/{resources}/{id}/tags``: tags of networks, subnets, ports, routers, floating
IPs, security groups and subnet pools. Changing them raises the resource's revision."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from stratus.network import models, policy, tags
from stratus.network.api import access
from stratus.network.backend import Backend
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import NotFound
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import json_body

router = Router()
TAGGABLE: dict[str, type[models.StandardAttrs]] = {
    "networks": models.Network,
    "subnets": models.Subnet,
    "ports": models.Port,
    "routers": models.Router,
    "floatingips": models.FloatingIP,
    "security-groups": models.SecurityGroup,
    "subnetpools": models.SubnetPool,
}
PATH = "/v2.0/{collection}/{resource_id}/tags"


class TagsBody(BaseModel):
    tags: list[str]


def _resource(session: Session, ctx: RequestContext, collection: str, resource_id: str) -> Any:
    model = TAGGABLE.get(collection)
    if model is None:
        raise NotFound("The resource could not be found.")
    return access.find(session, ctx, model, resource_id)  # type: ignore[type-var]


def _change(
    be: Backend,
    ctx: RequestContext,
    collection: str,
    resource_id: str,
    edit: Any,
) -> list[str]:
    def work(session: Session) -> list[str]:
        row = _resource(session, ctx, collection, resource_id)
        policy.enforce(ctx, "update_tags", {"project_id": row.project_id})
        current = [t.tag for t in row.tags]
        tags.replace(session, row, edit(current))
        return [t.tag for t in row.tags]

    return be.transaction(work)


@router.get(PATH)
def list_tags(
    collection: str,
    resource_id: str,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    def work(session: Session) -> list[str]:
        return [t.tag for t in _resource(session, ctx, collection, resource_id).tags]

    return {"tags": be.transaction(work)}


@router.put(PATH)
def replace_tags(
    collection: str,
    resource_id: str,
    body: TagsBody = Depends(json_body(TagsBody)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    return {"tags": _change(be, ctx, collection, resource_id, lambda _: body.tags)}


@router.post(PATH, status_code=201)
def add_tags(
    collection: str,
    resource_id: str,
    body: TagsBody = Depends(json_body(TagsBody)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    return {"tags": _change(be, ctx, collection, resource_id, lambda now: [*now, *body.tags])}


@router.delete(PATH, status_code=204)
def remove_all_tags(
    collection: str,
    resource_id: str,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> Response:
    _change(be, ctx, collection, resource_id, lambda _: [])
    return Response(status_code=204)


@router.get(PATH + "/{tag}", status_code=204)
def check_tag(
    collection: str,
    resource_id: str,
    tag: str,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> Response:
    def work(session: Session) -> bool:
        row = _resource(session, ctx, collection, resource_id)
        return tag in [t.tag for t in row.tags]

    if not be.transaction(work):
        raise _tag_not_found(tag, resource_id)
    return Response(status_code=204)


@router.put(PATH + "/{tag}", status_code=201)
def add_tag(
    collection: str,
    resource_id: str,
    tag: str,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> Response:
    _change(be, ctx, collection, resource_id, lambda now: [*now, tag])
    return Response(status_code=201)


@router.delete(PATH + "/{tag}", status_code=204)
def remove_tag(
    collection: str,
    resource_id: str,
    tag: str,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> Response:
    def edit(now: list[str]) -> list[str]:
        if tag not in now:
            raise _tag_not_found(tag, resource_id)
        return [t for t in now if t != tag]

    _change(be, ctx, collection, resource_id, edit)
    return Response(status_code=204)


def _tag_not_found(tag: str, resource_id: str) -> NotFound:
    return NotFound(
        f"Tag {tag} could not be found for resource {resource_id}.", error_type="TagNotFound"
    )
