"""The image API (Glance v2): ``build_part`` is what the runner starts."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from stratus.image import options  # noqa: F401 - declares the [image] options
from stratus.image.api import data, images, members, schemas, versions
from stratus.image.api.access import Backend
from stratus.image.policy import default_policy
from stratus.image.store import FileStore
from stratus.runtime.api.app import create_app
from stratus.runtime.api.auth import TokenValidator
from stratus.runtime.api.errors import render_keystone
from stratus.runtime.api.policy import Policy
from stratus.runtime.parts import ApiPart
from stratus.runtime.process import Runtime

# Temporary upload files older than this are leftovers of a process that died mid-upload.
STALE_UPLOAD_SECONDS = 3600


def build_app(runtime: Runtime, validator: TokenValidator, policy: Policy | None = None) -> FastAPI:
    conf = runtime.conf
    store = FileStore(Path(conf.image.store_dir), conf.image.image_size_cap)
    store.sweep(older_than=STALE_UPLOAD_SECONDS)
    backend = Backend(
        db=runtime.database("image"),
        store=store,
        policy=policy or default_policy(),
        default_limit=conf.image.limit_param_default,
        max_limit=conf.image.api_limit_max,
    )
    return create_app(
        title="Stratus image API (Glance v2)",
        routers=[versions.router, schemas.router, images.router, data.router, members.router],
        render_error=render_keystone,
        state={"validator": validator, "backend": backend},
    )


def build_part(runtime: Runtime) -> ApiPart:
    app = build_app(runtime, runtime.identity("image"))
    return ApiPart("image-api", runtime.conf.image.port, app)
