"""The identity API (Keystone v3) as a part: ``build_part(runtime)``."""

from __future__ import annotations

from fastapi import FastAPI

from stratus.identity import options  # noqa: F401 - declares the [identity] options
from stratus.identity.api import (
    application_credentials,
    auth,
    domains,
    groups,
    projects,
    regions,
    role_assignments,
    roles,
    services,
    users,
    versions,
)
from stratus.identity.api.common import IdentityService
from stratus.identity.provider import TokenProvider
from stratus.runtime.api.app import create_app
from stratus.runtime.api.errors import render_keystone
from stratus.runtime.parts import ApiPart
from stratus.runtime.process import Runtime

ROUTERS = (
    versions.router,
    auth.router,
    domains.router,
    projects.router,
    users.router,
    application_credentials.router,
    groups.router,
    roles.router,
    role_assignments.router,
    regions.router,
    services.router,
)


def build_app(runtime: Runtime) -> FastAPI:
    """The identity API on the runtime's identity database, validating tokens itself."""
    conf = runtime.conf
    db = runtime.database("identity")
    provider = TokenProvider(conf, db)
    state = IdentityService(
        db=db,
        provider=provider,
        password_cost=conf.identity.password_hash_cost,
        token_lifetime=conf.identity.token_expiration,
    )
    return create_app(
        title="Stratus identity (Keystone v3)",
        routers=ROUTERS,
        render_error=render_keystone,
        state={"identity": state, "validator": provider},
    )


def build_part(runtime: Runtime) -> ApiPart:
    return ApiPart("identity-api", runtime.conf.identity.port, build_app(runtime))
