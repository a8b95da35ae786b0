"""Key pairs: per user; imported (any OpenSSH key, or an X.509 certificate) or generated."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy.exc import IntegrityError

from stratus.compute import keys, quotas
from stratus.compute.api.common import (
    PREFIX,
    Backend,
    at_least,
    micro,
    next_link,
    transaction,
)
from stratus.compute.models import KeyPair
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Conflict, Forbidden, NotFound
from stratus.runtime.api.pagination import page_params, paginate
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import json_body

router = Router(prefix=PREFIX + "/os-keypairs")

SAFE_NAME = frozenset("_- 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class NewKeyPair(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    public_key: Annotated[str, StringConstraints(max_length=65535)] | None = None
    type: Literal["ssh", "x509"] | None = None
    user_id: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None


class KeyPairBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keypair: NewKeyPair


def _owner(request: Request, ctx: RequestContext, api: Backend, user_id: str | None) -> str:
    """The user whose key pairs a request is about (another's only for admins, 2.10+)."""
    if user_id is None or not at_least(request, "2.10"):
        return ctx.user_id
    api.policy.enforce(ctx, "keypairs:own", {"user_id": user_id})
    return user_id


def _view(request: Request, row: KeyPair, *, full: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": row.name,
        "public_key": row.public_key,
        "fingerprint": row.fingerprint,
    }
    if at_least(request, "2.2"):
        body["type"] = row.type
    if full:
        body.update(
            user_id=row.user_id,
            id=row.id,
            created_at=micro(row.created_at),
            deleted=False,
            deleted_at=None,
            updated_at=None,
        )
    return body


def _find(request: Request, user_id: str, name: str) -> KeyPair:
    with transaction(request) as session:
        row = session.scalar(
            sa.select(KeyPair).where(KeyPair.user_id == user_id, KeyPair.name == name)
        )
    if row is None:
        raise NotFound(f"Keypair {name} not found for user {user_id}")
    return row


@router.get("", summary="List key pairs")
def list_keypairs(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    owner = _owner(request, ctx, api, request.query_params.get("user_id"))
    stmt = sa.select(KeyPair).where(KeyPair.user_id == owner)
    paged = at_least(request, "2.35")
    page = page_params(
        request.query_params if paged else {},
        sort_keys=("name",),
        default_sort=[("name", "asc")],
        max_limit=api.max_limit,
    )
    with transaction(request) as session:
        rows, marker = paginate(session, stmt, KeyPair, page, marker_column="name")
    body: dict[str, Any] = {
        "keypairs": [{"keypair": _view(request, row, full=False)} for row in rows]
    }
    if marker and paged:
        body["keypairs_links"] = next_link(request, "os-keypairs", marker)
    return body


@router.get("/{name}", summary="Show a key pair")
def show_keypair(
    name: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    owner = _owner(request, ctx, api, request.query_params.get("user_id"))
    return {"keypair": _view(request, _find(request, owner, name), full=True)}


@router.post("", summary="Import or generate a key pair")
def create_keypair(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    body: KeyPairBody = Depends(json_body(KeyPairBody)),
) -> Response:
    new = body.keypair
    if new.type is not None and not at_least(request, "2.2"):
        raise BadRequest("Invalid input: 'keypair.type' is not an allowed field")
    if new.user_id is not None and not at_least(request, "2.10"):
        raise BadRequest("Invalid input: 'keypair.user_id' is not an allowed field")
    owner = _owner(request, ctx, api, new.user_id)
    if set(new.name) - SAFE_NAME or new.name != new.name.strip():
        raise BadRequest(
            "Keypair data is invalid: Keypair name contains unsafe characters "
            "(use letters, digits, '_', '-' and inner spaces)."
        )
    key_type = new.type or keys.SSH
    private_key = None
    try:
        if new.public_key is None:
            generated = keys.generate(key_type, owner)
            public_key, fingerprint, private_key = (
                generated.public_key,
                generated.fingerprint,
                generated.private_key,
            )
        else:
            public_key = new.public_key.strip()
            fingerprint = keys.fingerprint(public_key, key_type)
    except keys.InvalidKey as exc:
        raise BadRequest(f"Keypair data is invalid: {exc}") from exc
    row = KeyPair(
        name=new.name, user_id=owner, fingerprint=fingerprint, public_key=public_key, type=key_type
    )
    try:
        with api.db.session() as session:
            limit = quotas.limits(session, api.conf, ctx.project_id or "")["key_pairs"]
            if limit != quotas.UNLIMITED and quotas.key_pairs_of(session, owner) >= limit:
                raise Forbidden("Quota exceeded, too many key pairs.")
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"Key pair '{new.name}' already exists.") from exc
    view = _view(request, row, full=False)
    view["user_id"] = owner
    if private_key is not None:
        view["private_key"] = private_key
    status = 201 if at_least(request, "2.2") else 200
    return JSONResponse({"keypair": view}, status_code=status)


@router.delete("/{name}", summary="Delete a key pair")
def delete_keypair(
    name: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> Response:
    owner = _owner(request, ctx, api, request.query_params.get("user_id"))
    with api.db.session() as session:
        deleted = session.execute(
            sa.delete(KeyPair.__table__).where(KeyPair.user_id == owner, KeyPair.name == name)
        )
    if deleted.rowcount == 0:
        raise NotFound(f"Keypair {name} not found for user {owner}")
    return Response(status_code=204 if at_least(request, "2.2") else 202)
