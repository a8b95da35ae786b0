"""What every image handler needs: the service's database, store and policy, and the
image a caller names, if the caller may see it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from stratus.image.models import Image, ImageMember
from stratus.image.store import FileStore
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import NotFound
from stratus.runtime.api.policy import Policy
from stratus.runtime.db import Database


@dataclass(frozen=True)
class Backend:
    db: Database
    store: FileStore
    policy: Policy
    default_limit: int
    max_limit: int


def backend(request: Request) -> Backend:
    """The image service behind this app."""
    return request.app.state.backend


def can_see(session: Session, ctx: RequestContext, image: Image) -> bool:
    """Admins see every image, everyone sees public and community images, a project
    sees its own images and the shared images it is a member of (in any status)."""
    if ctx.is_admin or image.visibility in ("public", "community"):
        return True
    if ctx.project_id is None:
        return False
    if image.owner == ctx.project_id:
        return True
    return (
        image.visibility == "shared"
        and session.get(ImageMember, (image.id, ctx.project_id)) is not None
    )


def find_image(session: Session, ctx: RequestContext, image_id: str) -> Image:
    """The image, or a 404 when it does not exist or the caller may not see it."""
    image = session.get(Image, image_id)
    if image is None or not can_see(session, ctx, image):
        raise NotFound(f"No image found with ID {image_id}.")
    return image


def target(image: Image) -> dict[str, Any]:
    """What policy rules check about an image."""
    return {"owner": image.owner, "visibility": image.visibility}
