"""The parts a Stratus process can run, and the services they belong to.

A part is a plain object: an API (an ASGI app on a port) or a worker (started and
stopped in the background). ``stratus up`` runs every enabled service's parts in one
process; ``stratus run PART`` runs one. The table below is the only place that knows
which module builds which part, so that unused services are never imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stratus.runtime.config import ConfigError, Opt, register
from stratus.runtime.process import Runtime

register(
    "DEFAULT",
    Opt(
        "enabled_services",
        ["identity", "image", "network", "compute", "container"],
        "Services this cloud runs (stratus up) and lists in its catalog.",
        list,
    ),
)


@dataclass(frozen=True)
class WorkerPart:
    name: str
    start: Callable[[], None]
    stop: Callable[[], None]


@dataclass(frozen=True)
class ApiPart:
    name: str
    port: int
    app: Any  # an ASGI application
    background: tuple[WorkerPart, ...] = ()  # run beside the API, in its process


Part = ApiPart | WorkerPart


@dataclass(frozen=True)
class Service:
    """A service as the catalog lists it and as the runner starts it."""

    name: str  # the Stratus service ("image")
    service_type: str  # the catalog type ("image")
    catalog_name: str  # the catalog name OpenStack clients know ("glance")
    section: str  # its config section, which holds its ``port``
    url_path: str  # appended to http://host:port for its endpoints ("/v3", "")
    parts: tuple[str, ...]  # the parts that make it up, in start order


SERVICES: dict[str, Service] = {
    "identity": Service("identity", "identity", "keystone", "identity", "/v3", ("identity-api",)),
    "image": Service("image", "image", "glance", "image", "", ("image-api",)),
    "network": Service(
        "network",
        "network",
        "neutron",
        "network",
        "",
        ("network-server", "network-l2-agent", "network-dhcp-agent", "network-l3-agent"),
    ),
    "compute": Service(
        "compute",
        "compute",
        "nova",
        "compute",
        "/v2.1",
        (
            "compute-api",
            "compute-scheduler",
            "compute-conductor",
            "compute-agent",
            "compute-serialproxy",
        ),
    ),
    "container": Service(
        "container",
        "container",
        "zun",
        "container",
        "/v1",
        ("container-api", "container-netplugin", "container-agent", "container-wsproxy"),
    ),
}

_BUILDERS: dict[str, str] = {
    "identity-api": "stratus.identity.api:build_part",
    "image-api": "stratus.image.api:build_part",
    "network-server": "stratus.network.api:build_part",
    "network-l2-agent": "stratus.network.agent.l2:build_part",
    "network-dhcp-agent": "stratus.network.agent.dhcp:build_part",
    "network-l3-agent": "stratus.network.agent.l3:build_part",
    "compute-api": "stratus.compute.api:build_part",
    "compute-scheduler": "stratus.compute.parts:build_scheduler",
    "compute-conductor": "stratus.compute.parts:build_conductor",
    "compute-agent": "stratus.compute.parts:build_agent",
    "compute-serialproxy": "stratus.compute.serialproxy:build_part",
    "container-api": "stratus.container.api:build_part",
    "container-agent": "stratus.container.agent:build_part",
    "container-wsproxy": "stratus.container.wsproxy:build_part",
    "container-netplugin": "stratus.container.netplugin:build_part",
}


def part_names() -> list[str]:
    return list(_BUILDERS)


def load_options() -> None:
    """Import every service's option declarations (for sample configs and validation)."""
    for service in SERVICES:
        importlib.import_module(f"stratus.{service}.options")


def build(name: str, runtime: Runtime) -> Part:
    """Import and build one part by name."""
    module_name, _, func = _BUILDERS[name].partition(":")
    builder: Callable[[Runtime], Part] = getattr(importlib.import_module(module_name), func)
    return builder(runtime)


def enabled(runtime: Runtime) -> list[Service]:
    names = runtime.conf.get("DEFAULT", "enabled_services")
    unknown = [n for n in names if n not in SERVICES]
    if unknown:
        raise ConfigError(f"enabled_services names unknown services: {', '.join(unknown)}")
    return [SERVICES[n] for n in names]


def endpoint_url(runtime: Runtime, service: Service) -> str:
    host = runtime.conf.get("DEFAULT", "my_ip")
    return f"http://{host}:{runtime.conf.get(service.section, 'port')}{service.url_path}"
