"""A server's metadata (``/servers/{id}/metadata``) and tags (2.26, ``/servers/{id}/tags``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Response
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy.orm import Session

from stratus.compute import states
from stratus.compute.api.common import PREFIX, Backend, at_least, backend, transaction
from stratus.compute.api.server_access import authorize, check_unlocked, find_server
from stratus.compute.api.server_views import server_url
from stratus.compute.api.servers import MAX_TAGS, Tag, check_metadata_quota
from stratus.compute.models import Instance, InstanceMetadata, InstanceTag
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Conflict, NotFound
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import json_body

router = Router(prefix=PREFIX + "/servers/{server_id}")

Key = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Value = Annotated[str, StringConstraints(max_length=255)]
# States a server's metadata and tags may change in (not while it is built or deleted).
CHANGEABLE = frozenset(
    {states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED, states.RESIZED, states.ERROR}
)


class MetadataBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metadata: dict[Key, Value]


class MetaBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meta: dict[Key, Value]


class TagsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tags: list[Tag]


def _readable(request: Request, session: Session, ctx: RequestContext, server_id: str) -> Instance:
    instance = find_server(session, ctx, server_id)
    authorize(backend(request), ctx, instance, "servers:read")
    return instance


def _changeable(
    request: Request, session: Session, ctx: RequestContext, server_id: str, what: str
) -> Instance:
    api = backend(request)
    instance = find_server(session, ctx, server_id)
    authorize(api, ctx, instance, "servers:write")
    check_unlocked(api, ctx, instance)
    if instance.vm_state not in CHANGEABLE or instance.task_state == states.DELETING:
        raise Conflict(
            f"Cannot '{what}' instance {instance.uuid} while it is in vm_state {instance.vm_state}"
        )
    return instance


def _set_metadata(
    request: Request, session: Session, instance: Instance, values: dict[str, str], replace: bool
) -> dict[str, str]:
    merged = dict(values) if replace else {**instance.metadata_dict, **values}
    check_metadata_quota(session, backend(request), instance.project_id, len(merged))
    existing = {item.key: item for item in instance.metadata_items}
    for key, item in existing.items():
        if key not in merged:
            instance.metadata_items.remove(item)
    for key, value in merged.items():
        if key in existing:
            existing[key].value = value
        else:
            instance.metadata_items.append(InstanceMetadata(key=key, value=value))
    return merged


@router.get("/metadata", summary="A server's metadata")
def list_metadata(
    server_id: str, request: Request, ctx: RequestContext = Depends(authenticated)
) -> dict[str, Any]:
    with transaction(request) as session:
        return {"metadata": _readable(request, session, ctx, server_id).metadata_dict}


@router.post("/metadata", summary="Add to or change a server's metadata")
def update_metadata(
    server_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    body: MetadataBody = Depends(json_body(MetadataBody)),
) -> dict[str, Any]:
    with transaction(request) as session:
        instance = _changeable(request, session, ctx, server_id, "update_metadata")
        return {"metadata": _set_metadata(request, session, instance, body.metadata, False)}


@router.put("/metadata", summary="Replace a server's metadata")
def replace_metadata(
    server_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    body: MetadataBody = Depends(json_body(MetadataBody)),
) -> dict[str, Any]:
    with transaction(request) as session:
        instance = _changeable(request, session, ctx, server_id, "update_metadata")
        return {"metadata": _set_metadata(request, session, instance, body.metadata, True)}


@router.get("/metadata/{key}", summary="One metadata item of a server")
def show_metadata_item(
    server_id: str, key: str, request: Request, ctx: RequestContext = Depends(authenticated)
) -> dict[str, Any]:
    with transaction(request) as session:
        metadata = _readable(request, session, ctx, server_id).metadata_dict
    if key not in metadata:
        raise NotFound("Metadata item was not found")
    return {"meta": {key: metadata[key]}}


@router.put("/metadata/{key}", summary="Set one metadata item of a server")
def set_metadata_item(
    server_id: str,
    key: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    body: MetaBody = Depends(json_body(MetaBody)),
) -> dict[str, Any]:
    if list(body.meta) != [key]:
        raise BadRequest("Request body and URI mismatch")
    with transaction(request) as session:
        instance = _changeable(request, session, ctx, server_id, "update_metadata")
        _set_metadata(request, session, instance, body.meta, False)
    return {"meta": body.meta}


@router.delete("/metadata/{key}", status_code=204, summary="Delete a metadata item")
def delete_metadata_item(
    server_id: str, key: str, request: Request, ctx: RequestContext = Depends(authenticated)
) -> Response:
    with transaction(request) as session:
        instance = _changeable(request, session, ctx, server_id, "delete_metadata")
        item = next((i for i in instance.metadata_items if i.key == key), None)
        if item is None:
            raise NotFound("Metadata item was not found")
        instance.metadata_items.remove(item)
    return Response(status_code=204)


# -- tags -------------------------------------------------------------------------------


def _tags_supported(request: Request) -> None:
    if not at_least(request, "2.26"):
        raise NotFound("The resource could not be found.")


@router.get("/tags", summary="A server's tags")
def list_tags(
    server_id: str, request: Request, ctx: RequestContext = Depends(authenticated)
) -> dict[str, Any]:
    _tags_supported(request)
    with transaction(request) as session:
        instance = _readable(request, session, ctx, server_id)
        return {"tags": sorted(t.tag for t in instance.tags)}


@router.put("/tags", summary="Replace a server's tags")
def replace_tags(
    server_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    body: TagsBody = Depends(json_body(TagsBody)),
) -> dict[str, Any]:
    _tags_supported(request)
    tags = sorted(set(body.tags))
    if len(tags) > MAX_TAGS:
        raise BadRequest(f"A server can have at most {MAX_TAGS} tags.")
    with transaction(request) as session:
        instance = _changeable(request, session, ctx, server_id, "update tags")
        instance.tags = [InstanceTag(tag=t) for t in tags]
    return {"tags": tags}


@router.delete("/tags", status_code=204, summary="Delete every tag of a server")
def delete_tags(
    server_id: str, request: Request, ctx: RequestContext = Depends(authenticated)
) -> Response:
    _tags_supported(request)
    with transaction(request) as session:
        _changeable(request, session, ctx, server_id, "delete tags").tags = []
    return Response(status_code=204)


@router.get("/tags/{tag}", status_code=204, summary="Whether a server has a tag")
def check_tag(
    server_id: str, tag: str, request: Request, ctx: RequestContext = Depends(authenticated)
) -> Response:
    _tags_supported(request)
    with transaction(request) as session:
        instance = _readable(request, session, ctx, server_id)
        if tag not in {t.tag for t in instance.tags}:
            raise NotFound(f"Tag {tag} could not be found for server {server_id}.")
    return Response(status_code=204)


@router.put("/tags/{tag}", summary="Add a tag to a server")
def add_tag(
    server_id: str, tag: str, request: Request, ctx: RequestContext = Depends(authenticated)
) -> Response:
    _tags_supported(request)
    if not tag or len(tag) > 60 or "," in tag or "/" in tag:
        raise BadRequest(f"Invalid tag {tag!r}: 1-60 characters, no ',' or '/'.")
    with transaction(request) as session:
        instance = _changeable(request, session, ctx, server_id, "update tags")
        if tag in {t.tag for t in instance.tags}:
            return Response(status_code=204)
        if len(instance.tags) >= MAX_TAGS:
            raise BadRequest(f"A server can have at most {MAX_TAGS} tags.")
        instance.tags.append(InstanceTag(tag=tag))
    location = f"{server_url(request, server_id)}/tags/{tag}"
    return Response(status_code=201, headers={"Location": location})


@router.delete("/tags/{tag}", status_code=204, summary="Remove a tag from a server")
def delete_tag(
    server_id: str, tag: str, request: Request, ctx: RequestContext = Depends(authenticated)
) -> Response:
    _tags_supported(request)
    with transaction(request) as session:
        instance = _changeable(request, session, ctx, server_id, "delete tags")
        found = next((t for t in instance.tags if t.tag == tag), None)
        if found is None:
            raise NotFound(f"Tag {tag} could not be found for server {server_id}.")
        instance.tags.remove(found)
    return Response(status_code=204)
