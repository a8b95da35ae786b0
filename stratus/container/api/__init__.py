"""The container API (Zun v1): ``build_part`` is what the runner starts.

The API part also serves the ``container-conductor`` topic, where agents report their
hosts and containers: the API is the only part that writes the container tables.
"""

from __future__ import annotations

from fastapi import FastAPI

from stratus.container import (
    options,  # noqa: F401 - declares the [container] options
    quotas,
)
from stratus.container.api import capsules, containers, hosts, networks, quota_sets, versions
from stratus.container.images import ImageClient
from stratus.container.networking import UNFREED_INTERVAL, Networking
from stratus.container.policy import default_policy
from stratus.container.rpc import CONDUCTOR_TOPIC, AgentClient, Conductor
from stratus.container.service import ContainerService, Settings
from stratus.runtime.api.app import create_app
from stratus.runtime.api.auth import TokenValidator
from stratus.runtime.api.errors import render_zun
from stratus.runtime.api.microversion import Microversions
from stratus.runtime.api.policy import Policy
from stratus.runtime.clients.catalog import ServiceClient
from stratus.runtime.clients.network import NetworkApi
from stratus.runtime.parts import ApiPart, WorkerPart
from stratus.runtime.periodic import Periodic
from stratus.runtime.process import Runtime


def build_app(
    runtime: Runtime,
    validator: TokenValidator,
    images: ImageClient | None = None,
    policy: Policy | None = None,
    network: NetworkApi | None = None,
) -> FastAPI:
    conf = runtime.conf.container
    db = runtime.database("container")
    settings = Settings(
        default_cpu=conf.default_cpu,
        default_memory=conf.default_memory,
        cpu_allocation_ratio=conf.cpu_allocation_ratio,
        service_down_time=conf.service_down_time,
        quota_defaults=quotas.defaults(conf),
        limit_max=conf.limit_default,
        console_token_ttl=runtime.conf.websocket_proxy.token_ttl,
    )
    if network is None:
        region = runtime.conf.get("DEFAULT", "region_name")
        network = NetworkApi(ServiceClient(runtime.identity("container"), "network", region))
    networking = Networking(network, db)
    service = ContainerService(
        db,
        AgentClient(runtime.bus),
        images or ImageClient(conf.image_url),
        policy or default_policy(),
        settings,
        networking,
    )
    runtime.bus.serve(CONDUCTOR_TOPIC, Conductor(db, networking))  # lives as long as the bus
    return create_app(
        title="Stratus container API (Zun v1)",
        routers=[
            versions.router,
            containers.router,
            networks.router,
            capsules.router,
            hosts.router,
            quota_sets.router,
        ],
        render_error=render_zun,
        microversions=Microversions(
            "container", versions.MIN_VERSION, versions.MAX_VERSION, "/v1", echo_range=True
        ),
        state={"validator": validator, "service": service},
    )


def build_part(runtime: Runtime) -> ApiPart:
    app = build_app(runtime, runtime.identity("container"))
    networking: Networking = app.state.service.networking
    frees = Periodic("container-leftover-ports", UNFREED_INTERVAL, networking.free_leftovers)
    background = WorkerPart("container-leftover-ports", frees.start, frees.stop)
    return ApiPart("container-api", runtime.conf.container.port, app, (background,))
