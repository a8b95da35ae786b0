"""Images: create, list, show, update (JSON patch), delete, tags, deactivate/reactivate."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stratus.image.api import filters, patch, views
from stratus.image.api.access import Backend, find_image, target
from stratus.image.api.fields import (
    NAME_LENGTH,
    ImageFields,
    NewImage,
    PatchDocument,
    check_writable,
)
from stratus.image.models import Image, ImageProperty, ImageTag
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Conflict, Forbidden, NotFound
from stratus.runtime.api.openapi import BODY_MODEL_ATTRIBUTE
from stratus.runtime.api.pagination import paginate
from stratus.runtime.api.policy import Policy
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import parse, read_json
from stratus.runtime.db import new_id, utcnow

router = Router(prefix="/v2/images")


def _body(
    model: type[BaseModel], content_type: str, check: Callable[[Any], Any]
) -> Callable[[Request], Any]:
    """A dependency reading a JSON body of ``content_type``, checked by ``check``
    (which answers 403 for attributes nobody may set before the schema's 400s)."""

    async def dependency(request: Request) -> Any:
        return check(await read_json(request, (content_type,)))

    setattr(dependency, BODY_MODEL_ATTRIBUTE, (model, (content_type,)))
    return dependency


def _new_image(document: Any) -> NewImage:
    if isinstance(document, dict):
        for key in document:
            if key != "id":
                check_writable(key)
    return parse(NewImage, document)


def _patch_changes(document: Any) -> list[patch.Change]:
    return patch.changes(parse(PatchDocument, document).root)


@router.post("", status_code=201)
def create_image(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    body: NewImage = Depends(_body(NewImage, "application/json", _new_image)),
) -> JSONResponse:
    owner = body.owner or ctx.project_id
    api.policy.enforce(ctx, "add_image", {"owner": owner})
    _check_visibility(api.policy, ctx, body.visibility, owner)
    now = utcnow()
    image = Image(
        id=body.id or new_id(),
        status="queued",
        created_at=now,
        updated_at=now,
        **{**body.core(), "owner": owner},
    )
    _set_properties(image, body.properties)
    _set_tags(image, body.tags)
    duplicate = Conflict(f"An image with ID {image.id} already exists.")
    with api.db.session() as session:
        if session.get(Image, image.id) is not None:
            raise duplicate
        session.add(image)
        try:
            session.flush()
        except IntegrityError as exc:
            raise duplicate from exc
        rendered = views.image(image)
    location = str(request.url_for("show_image", image_id=image.id))
    return JSONResponse(rendered, status_code=201, headers={"Location": location})


@router.get("")
def list_images(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "get_images")
    query = request.query_params
    page = filters.page(query, api.default_limit, api.max_limit)
    where = filters.conditions(query, ctx)
    with api.db.session() as session:
        rows, next_marker = paginate(session, sa.select(Image).where(*where), Image, page)
        images = [views.image(row) for row in rows]
    params = [(k, v) for k, v in query.multi_items() if k != "marker"]
    body: dict[str, Any] = {
        "images": images,
        "first": _link("/v2/images", params),
        "schema": views.IMAGES_SCHEMA,
    }
    if next_marker is not None:
        body["next"] = _link("/v2/images", [*params, ("marker", next_marker)])
    return body


@router.get("/{image_id}")
def show_image(
    image_id: str, ctx: RequestContext = Depends(authenticated), api: Backend = Depends(app_backend)
) -> dict[str, Any]:
    with api.db.session() as session:
        image = find_image(session, ctx, image_id)
        api.policy.enforce(ctx, "get_image", target(image))
        return views.image(image)


@router.patch("/{image_id}")
def update_image(
    image_id: str,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    changes: list[patch.Change] = Depends(_body(PatchDocument, patch.CONTENT_TYPE, _patch_changes)),
) -> dict[str, Any]:
    with api.db.session() as session:
        image = find_image(session, ctx, image_id)
        api.policy.enforce(ctx, "modify_image", target(image))
        before = _writable(image)
        after = parse(ImageFields, patch.apply(before, changes))
        _check_update(api.policy, ctx, image, before, after)
        for name, value in after.core().items():
            setattr(image, name, value)
        _set_properties(image, after.properties)
        _set_tags(image, after.tags)
        image.updated_at = utcnow()
        session.flush()
        return views.image(image)


@router.delete("/{image_id}", status_code=204)
def delete_image(
    image_id: str, ctx: RequestContext = Depends(authenticated), api: Backend = Depends(app_backend)
) -> Response:
    with api.db.session() as session:
        image = find_image(session, ctx, image_id)
        api.policy.enforce(ctx, "delete_image", target(image))
        if image.protected:
            raise Forbidden(f"Image {image_id} is protected and cannot be deleted.")
        session.delete(image)
    # The row is gone first: an upload still running finds no image to activate and
    # removes its own file (see data.py).
    api.store.delete(image_id)
    return Response(status_code=204)


@router.put("/{image_id}/tags/{tag}", status_code=204)
def add_tag(
    image_id: str,
    tag: str,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> Response:
    if len(tag) > NAME_LENGTH:
        raise BadRequest(f"Tags are at most {NAME_LENGTH} characters long.")
    with api.db.session() as session:
        image = _image_to_modify(session, ctx, api.policy, image_id)
        if tag not in {t.value for t in image.tags}:
            image.tags.append(ImageTag(value=tag))
            image.updated_at = utcnow()
    return Response(status_code=204)


@router.delete("/{image_id}/tags/{tag}", status_code=204)
def delete_tag(
    image_id: str,
    tag: str,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> Response:
    with api.db.session() as session:
        image = _image_to_modify(session, ctx, api.policy, image_id)
        kept = [t for t in image.tags if t.value != tag]
        if len(kept) == len(image.tags):
            raise NotFound(f"Image {image_id} has no tag {tag!r}.")
        image.tags = kept
        image.updated_at = utcnow()
    return Response(status_code=204)


@router.post("/{image_id}/actions/deactivate", status_code=204)
def deactivate_image(
    image_id: str, ctx: RequestContext = Depends(authenticated), api: Backend = Depends(app_backend)
) -> Response:
    _switch(api, ctx, image_id, "deactivate", "active", "deactivated")
    return Response(status_code=204)


@router.post("/{image_id}/actions/reactivate", status_code=204)
def reactivate_image(
    image_id: str, ctx: RequestContext = Depends(authenticated), api: Backend = Depends(app_backend)
) -> Response:
    _switch(api, ctx, image_id, "reactivate", "deactivated", "active")
    return Response(status_code=204)


def _switch(
    api: Backend, ctx: RequestContext, image_id: str, action: str, source: str, goal: str
) -> None:
    """Move an image from ``source`` to ``goal`` status (a no-op when already there)."""
    with api.db.session() as session:
        image = find_image(session, ctx, image_id)
        api.policy.enforce(ctx, action, target(image))
        if image.status not in (source, goal):
            raise Forbidden(f"Cannot {action} image {image_id} in status {image.status!r}.")
        if image.status != goal:
            image.status = goal
            image.updated_at = utcnow()


def _image_to_modify(session: Session, ctx: RequestContext, policy: Policy, image_id: str) -> Image:
    image = find_image(session, ctx, image_id)
    policy.enforce(ctx, "modify_image", target(image))
    return image


def _writable(image: Image) -> dict[str, Any]:
    """The attributes a patch works on: core writable ones, tags, custom properties."""
    state: dict[str, Any] = {name: getattr(image, name) for name in ImageFields.model_fields}
    state["tags"] = sorted(tag.value for tag in image.tags)
    state.update((prop.name, prop.value) for prop in image.properties)
    return state


def _check_update(
    policy: Policy, ctx: RequestContext, image: Image, before: dict[str, Any], after: ImageFields
) -> None:
    if after.visibility != before["visibility"]:
        _check_visibility(policy, ctx, after.visibility, after.owner)
    if after.owner != before["owner"]:
        policy.enforce(ctx, "change_image_owner", target(image))
    for name in ("disk_format", "container_format"):
        if getattr(after, name) != before[name] and image.status != "queued":
            raise Forbidden(f"Attribute {name} can only be changed while the image is queued.")


def _check_visibility(
    policy: Policy, ctx: RequestContext, visibility: str, owner: str | None
) -> None:
    rule = {"public": "publicize_image", "community": "communitize_image"}.get(visibility)
    if rule is not None:
        policy.enforce(ctx, rule, {"owner": owner})


def _set_properties(image: Image, properties: dict[str, str]) -> None:
    current = {prop.name: prop for prop in image.properties}
    for name, prop in current.items():
        if name in properties:
            prop.value = properties[name]
    image.properties = [prop for name, prop in current.items() if name in properties] + [
        ImageProperty(name=name, value=value)
        for name, value in properties.items()
        if name not in current
    ]


def _set_tags(image: Image, tags: Sequence[str]) -> None:
    current = {tag.value: tag for tag in image.tags}
    image.tags = [current.get(value) or ImageTag(value=value) for value in tags]


def _link(path: str, params: list[tuple[str, str]]) -> str:
    return f"{path}?{urlencode(params)}" if params else path
