"""Image sharing: the owner adds projects as members of a shared image; each member
accepts or rejects it, which decides whether it shows in the member's image list."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import Depends, Response
from sqlalchemy.orm import Session

from stratus.image.api import views
from stratus.image.api.access import Backend, find_image, target
from stratus.image.api.fields import MemberStatus, NewMember
from stratus.image.models import Image, ImageMember
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import Conflict, Forbidden, NotFound
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import json_body
from stratus.runtime.db import utcnow

router = Router(prefix="/v2/images/{image_id}/members")


@router.post("")
def add_member(
    image_id: str,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    body: NewMember = Depends(json_body(NewMember)),
) -> dict[str, Any]:
    with api.db.session() as session:
        image = _shared_image(session, ctx, api, image_id, "add_member")
        if session.get(ImageMember, (image.id, body.member)) is not None:
            raise Conflict(f"Project {body.member} is already a member of image {image_id}.")
        member = ImageMember(image_id=image.id, member=body.member, status="pending")
        session.add(member)
        session.flush()
        return views.member(member)


@router.get("")
def list_members(
    image_id: str, ctx: RequestContext = Depends(authenticated), api: Backend = Depends(app_backend)
) -> dict[str, Any]:
    with api.db.session() as session:
        image = _shared_image(session, ctx, api, image_id, "get_members")
        members = [m for m in _members(session, image) if _may_see(ctx, image, m.member)]
        return {"members": [views.member(m) for m in members], "schema": views.MEMBERS_SCHEMA}


@router.get("/{member_id}")
def show_member(
    image_id: str,
    member_id: str,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    with api.db.session() as session:
        image = _shared_image(session, ctx, api, image_id, "get_members")
        if not _may_see(ctx, image, member_id):
            raise _no_member(image_id, member_id)
        return views.member(_member(session, image_id, member_id))


@router.put("/{member_id}")
def update_member(
    image_id: str,
    member_id: str,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    body: MemberStatus = Depends(json_body(MemberStatus)),
) -> dict[str, Any]:
    with api.db.session() as session:
        image = _shared_image(session, ctx, api, image_id, "get_members")
        if not _may_see(ctx, image, member_id):
            raise _no_member(image_id, member_id)
        member = _member(session, image_id, member_id)
        api.policy.enforce(ctx, "modify_member", {**target(image), "member_id": member_id})
        if member.status != body.status:
            member.status = body.status
            member.updated_at = utcnow()
        session.flush()
        return views.member(member)


@router.delete("/{member_id}", status_code=204)
def delete_member(
    image_id: str,
    member_id: str,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> Response:
    with api.db.session() as session:
        _shared_image(session, ctx, api, image_id, "delete_member")
        session.delete(_member(session, image_id, member_id))
    return Response(status_code=204)


def _shared_image(
    session: Session, ctx: RequestContext, api: Backend, image_id: str, action: str
) -> Image:
    image = find_image(session, ctx, image_id)
    api.policy.enforce(ctx, action, target(image))
    if image.visibility != "shared":
        raise Forbidden(f"Only shared images have members; image {image_id} is {image.visibility}.")
    return image


def _may_see(ctx: RequestContext, image: Image, member_id: str) -> bool:
    """Owners and admins see every member; a member sees only itself."""
    return ctx.is_admin or image.owner == ctx.project_id or member_id == ctx.project_id


def _members(session: Session, image: Image) -> list[ImageMember]:
    query = (
        sa.select(ImageMember)
        .where(ImageMember.image_id == image.id)
        .order_by(ImageMember.created_at, ImageMember.member)
    )
    return list(session.scalars(query))


def _member(session: Session, image_id: str, member_id: str) -> ImageMember:
    member = session.get(ImageMember, (image_id, member_id))
    if member is None:
        raise _no_member(image_id, member_id)
    return member


def _no_member(image_id: str, member_id: str) -> NotFound:
    return NotFound(f"Project {member_id} is not a member of image {image_id}.")
