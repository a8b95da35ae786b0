"""``/v3/auth``: issue, validate, check and revoke tokens; a token's catalog, projects
and domains."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from stratus.identity import assignments, revocations
from stratus.identity.api import views
from stratus.identity.api.common import collection, links, query_bool, service, transaction
from stratus.identity.api.policy import allowed, enforce
from stratus.identity.authentication import AuthRequest, authenticate
from stratus.identity.catalog import build_catalog
from stratus.identity.models import DOMAIN, PROJECT, Domain, Project
from stratus.identity.tokens import InvalidToken, TokenPayload
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Forbidden, NotFound
from stratus.runtime.api.routing import Router
from stratus.runtime.api.validation import json_body

router = Router(prefix="/v3/auth", tags=["auth"])
SUBJECT_HEADER = "X-Subject-Token"


def _with_catalog(request: Request) -> bool:
    """``?nocatalog`` (with any value but false) leaves the catalog out."""
    raw = request.query_params.get("nocatalog")
    return raw is None or not query_bool("nocatalog", raw)


def _subject(
    request: Request, session: Session, ctx: RequestContext, action: str
) -> tuple[TokenPayload, dict[str, Any], str]:
    """The token named by X-Subject-Token, if the caller may act on it."""
    token = request.headers.get(SUBJECT_HEADER)
    if not token:
        raise BadRequest(f"The {SUBJECT_HEADER} header names the token and is required.")
    try:
        payload, body = service(request).provider.inspect(
            session, token, catalog=_with_catalog(request)
        )
    except InvalidToken as exc:
        raise NotFound("Could not find token: it is invalid, expired or revoked.") from exc
    enforce(ctx, action, user_id=payload.user_id)
    return payload, body, token


@router.post("/tokens", status_code=201, summary="Authenticate and issue a token")
def issue_token(
    request: Request, body: AuthRequest = Depends(json_body(AuthRequest))
) -> JSONResponse:
    ident = service(request)
    with transaction(request) as session:
        token, data = authenticate(session, body.auth, ident.provider, ident.password_cost)
    if not _with_catalog(request):
        data.pop("catalog", None)
    return JSONResponse({"token": data}, status_code=201, headers={SUBJECT_HEADER: token})


@router.get("/tokens", summary="Validate a token")
def validate_token(request: Request, ctx: RequestContext = Depends(authenticated)) -> JSONResponse:
    with transaction(request) as session:
        _, body, token = _subject(request, session, ctx, "validate_token")
    return JSONResponse({"token": body}, headers={SUBJECT_HEADER: token})


@router.head("/tokens", summary="Check a token")
def check_token(request: Request, ctx: RequestContext = Depends(authenticated)) -> Response:
    with transaction(request) as session:
        _, _, token = _subject(request, session, ctx, "validate_token")
    return Response(status_code=200, headers={SUBJECT_HEADER: token})


@router.delete("/tokens", status_code=204, summary="Revoke a token")
def revoke_token(request: Request, ctx: RequestContext = Depends(authenticated)) -> Response:
    with transaction(request) as session:
        payload, _, _ = _subject(request, session, ctx, "revoke_token")
        revocations.revoke_token(session, payload.audit_ids[0], service(request).token_lifetime)
    return Response(status_code=204)


@router.get("/catalog", summary="The catalog of the caller's token")
def get_catalog(
    request: Request, ctx: RequestContext = Depends(allowed("get_catalog"))
) -> dict[str, Any]:
    if ctx.project_id is None and ctx.domain_id is None:
        raise Forbidden("The catalog comes with a project- or domain-scoped token.")
    with transaction(request) as session:
        return {"catalog": build_catalog(session), "links": links(request, "auth", "catalog")}


@router.get("/projects", summary="Projects the caller can scope a token to")
def auth_projects(request: Request, ctx: RequestContext = Depends(authenticated)) -> dict[str, Any]:
    with transaction(request) as session:
        ids = assignments.target_ids(session, ctx.user_id, PROJECT)
        stmt = (
            sa.select(Project)
            .join(Domain, Domain.id == Project.domain_id)
            .where(Project.id.in_(ids), Project.enabled.is_(True), Domain.enabled.is_(True))
            .order_by(Project.name, Project.id)
        )
        rows = session.scalars(stmt)
        return collection(request, "projects", [views.project(request, p) for p in rows])


@router.get("/domains", summary="Domains the caller can scope a token to")
def auth_domains(request: Request, ctx: RequestContext = Depends(authenticated)) -> dict[str, Any]:
    with transaction(request) as session:
        ids = assignments.target_ids(session, ctx.user_id, DOMAIN)
        stmt = (
            sa.select(Domain)
            .where(Domain.id.in_(ids), Domain.enabled.is_(True))
            .order_by(Domain.name, Domain.id)
        )
        rows = session.scalars(stmt)
        return collection(request, "domains", [views.domain(request, d) for d in rows])
