"""The network API (Neutron v2.0): ``build_part`` is what the runner starts. The same
process serves the agents' RPC interface (:mod:`stratus.network.rpc`) on the bus."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from stratus.network import (
    options,  # noqa: F401 - declares the network options
    rpc,
    topics,
)
from stratus.network.api import (
    agents,
    extensions,
    floatingips,
    networks,
    ports,
    quotas,
    routers,
    security_groups,
    subnetpools,
    subnets,
    tags,
    versions,
)
from stratus.network.backend import Backend
from stratus.network.compute_events import ComputeEvents
from stratus.network.ml2.manager import Ml2
from stratus.network.notifier import Notifier
from stratus.runtime.api.app import create_app
from stratus.runtime.api.auth import TokenValidator
from stratus.runtime.api.errors import render_neutron
from stratus.runtime.bus import Bus
from stratus.runtime.clients.catalog import ServiceClient
from stratus.runtime.parts import ApiPart
from stratus.runtime.process import Runtime

ROUTERS = [
    versions.router,
    extensions.router,
    networks.router,
    subnets.router,
    subnetpools.router,
    ports.router,
    routers.router,
    floatingips.router,
    security_groups.router,
    quotas.router,
    agents.router,
    tags.router,
]


def make_backend(
    runtime: Runtime,
    bus: Callable[[], Bus] | None = None,
    compute_events: ComputeEvents | None = None,
) -> Backend:
    return Backend(
        conf=runtime.conf,
        db=runtime.database("network"),
        ml2=Ml2(runtime.conf),
        notifier=Notifier(bus),
        compute_events=compute_events or ComputeEvents(),
    )


def build_app(backend: Backend, validator: TokenValidator) -> FastAPI:
    return create_app(
        title="Stratus network API (Neutron v2.0)",
        routers=ROUTERS,
        render_error=render_neutron,
        state={"validator": validator, "backend": backend},
    )


def build_part(runtime: Runtime) -> ApiPart:
    """The API, with the agents' RPC endpoint served on the bus until the runtime's bus
    is closed."""
    region = runtime.conf.get("DEFAULT", "region_name")
    compute = ServiceClient(runtime.identity("network"), "compute", region)
    backend = make_backend(runtime, lambda: runtime.bus, ComputeEvents(compute))
    runtime.bus.serve(topics.SERVER, rpc.ServerEndpoint(backend))
    app = build_app(backend, runtime.identity("network"))
    return ApiPart("network-server", runtime.conf.network.port, app)
