"""The compute API (Nova v2.1 with microversions): ``build_part`` is what the runner starts."""

from __future__ import annotations

from fastapi import FastAPI

from stratus.compute import options  # noqa: F401 - declares the [compute] options
from stratus.compute.api import (
    aggregates,
    availability_zones,
    consoles,
    flavors,
    hypervisors,
    instance_actions,
    interfaces,
    keypairs,
    quota_sets,
    server_actions,
    server_external_events,
    server_groups,
    server_metadata,
    servers,
    services,
    versions,
)
from stratus.compute.api.common import MAX_VERSION, MIN_VERSION, PREFIX, Backend
from stratus.compute.api.policy import default_policy
from stratus.compute.parts import service_clients
from stratus.runtime.api.app import create_app
from stratus.runtime.api.auth import TokenValidator
from stratus.runtime.api.errors import render_nova
from stratus.runtime.api.microversion import Microversions
from stratus.runtime.parts import ApiPart
from stratus.runtime.process import Runtime

MICROVERSIONS = Microversions(
    "compute", MIN_VERSION, MAX_VERSION, PREFIX, "X-OpenStack-Nova-API-Version"
)
ROUTERS = (
    versions.router,
    flavors.router,
    keypairs.router,
    server_groups.router,
    availability_zones.router,
    aggregates.router,
    hypervisors.router,
    services.router,
    quota_sets.router,
    servers.router,
    server_actions.router,
    server_metadata.router,
    instance_actions.router,
    interfaces.router,
    consoles.router,
    server_external_events.router,
)


def build_app(
    runtime: Runtime, validator: TokenValidator, backend: Backend | None = None
) -> FastAPI:
    """The compute API; tests hand in a ``backend`` whose clients reach in-process APIs."""
    if backend is None:
        images, network = service_clients(runtime)
        backend = Backend(
            conf=runtime.conf,
            db=runtime.database("compute"),
            bus=runtime.bus,
            policy=default_policy(),
            images=images,
            network=network,
        )
    return create_app(
        title="Stratus compute API (Nova v2.1)",
        routers=ROUTERS,
        render_error=render_nova,
        microversions=MICROVERSIONS,
        request_id_header="x-compute-request-id",
        state={"validator": validator, "backend": backend},
    )


def build_part(runtime: Runtime) -> ApiPart:
    app = build_app(runtime, runtime.identity("compute"))
    return ApiPart("compute-api", runtime.conf.compute.port, app)
