"""The ``[container]`` and ``[websocket_proxy]`` options."""

from __future__ import annotations

from stratus.runtime.config import Opt, register
from stratus.runtime.identity_client import register_service_credentials

register(
    "container",
    Opt("port", 9517, "Port of the container API (Zun v1).", int),
    Opt("image_url", "http://{my_ip}:{image.port}", "Image API the container service uses."),
    Opt("availability_zone", "nova", "Availability zone of this host's container agent."),
    Opt("default_cpu", 1.0, "Virtual CPUs of a container that asks for none.", float),
    Opt("default_memory", 512, "Memory (MB) of a container that asks for none.", int),
    Opt("cpu_allocation_ratio", 16.0, "Virtual CPUs that may be promised per host CPU.", float),
    Opt("service_down_time", 60, "Seconds without a report after which an agent is down.", int),
    Opt("report_interval", 10, "Seconds between an agent's reports and reconciliations.", int),
    Opt("quota_containers", 40, "Default most containers a project may hold.", int),
    Opt("quota_cpu", 20.0, "Default most virtual CPUs a project's containers may hold.", float),
    Opt("quota_memory", 51200, "Default most memory (MB) a project's containers may hold.", int),
    Opt("docker_url", "unix:///var/run/docker.sock", "Docker Engine the agent drives."),
    Opt(
        "image_cache_max_age",
        86400,
        "Seconds an image loaded from the image service stays on a host once no container "
        "uses it and no create has used it (0: kept for ever).",
        int,
    ),
    Opt("limit_default", 1000, "Most items one list page holds.", int),
    Opt(
        "network_plugin_name",
        "stratus",
        "Name of this host's Docker network and IPAM plugin (its socket is "
        "/run/docker/plugins/<name>.sock; `docker network create --driver <name>`).",
    ),
)
register(
    "websocket_proxy",
    Opt("wsproxy_host", "{my_ip}", "Address this host's container websocket proxy listens on."),
    Opt("wsproxy_port", 6784, "Port of this host's container websocket proxy.", int),
    Opt(
        "base_url",
        "ws://{my_ip}:{websocket_proxy.wsproxy_port}/",
        "URL clients reach this host's websocket proxy at (attach and interactive exec).",
    ),
    Opt("token_ttl", 600, "Seconds an attach or exec URL may be used in (once).", int),
)
register_service_credentials("container", "zun")
