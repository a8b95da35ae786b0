"""The compute service's worker parts: scheduler, conductor and compute agent (the API
part is built by :mod:`stratus.compute.api`)."""

from __future__ import annotations

from collections.abc import Callable

from stratus.compute import services
from stratus.compute.agent.manager import ComputeAgent
from stratus.compute.clients.images import ImageClient
from stratus.compute.clients.network import NetworkClient
from stratus.compute.conductor.manager import TOPIC as CONDUCTOR_TOPIC
from stratus.compute.conductor.manager import Conductor
from stratus.compute.floating_ips import Healing
from stratus.compute.networking import Networking
from stratus.compute.scheduler.manager import TOPIC as SCHEDULER_TOPIC
from stratus.compute.scheduler.manager import Scheduler
from stratus.compute.virt.loader import load_driver
from stratus.runtime.bus import Listener
from stratus.runtime.clients.catalog import ServiceClient
from stratus.runtime.parts import WorkerPart
from stratus.runtime.periodic import Periodic
from stratus.runtime.process import Runtime


def _served(
    runtime: Runtime,
    name: str,
    topic: str,
    endpoint: object,
    binary: tuple[str, str],
    rounds: Callable[[], None] | None = None,
) -> WorkerPart:
    """A part that serves ``endpoint`` on the bus and heartbeats its service record
    (running ``rounds`` too, every heartbeat)."""
    db = runtime.database("compute")
    host = runtime.conf.get("DEFAULT", "host")

    def beat() -> None:
        services.heartbeat(db, host, *binary)
        if rounds is not None:
            rounds()

    heartbeat = Periodic(f"{name}-heartbeat", runtime.conf.compute.report_interval, beat)
    listeners: list[Listener] = []

    def start() -> None:
        listeners.append(runtime.bus.serve(topic, endpoint, host=host))
        heartbeat.start()

    def stop() -> None:
        heartbeat.stop()
        while listeners:
            listeners.pop().stop()

    return WorkerPart(name, start, stop)


def build_scheduler(runtime: Runtime) -> WorkerPart:
    scheduler = Scheduler(runtime.conf, runtime.database("compute"))
    return _served(runtime, "compute-scheduler", SCHEDULER_TOPIC, scheduler, services.SCHEDULER)


def build_conductor(runtime: Runtime) -> WorkerPart:
    db = runtime.database("compute")
    conductor = Conductor(runtime.conf, db, runtime.bus)
    healing = Healing(db, service_clients(runtime)[1])

    def rounds() -> None:
        conductor.heal_builds()
        healing.run()

    return _served(
        runtime, "compute-conductor", CONDUCTOR_TOPIC, conductor, services.CONDUCTOR, rounds
    )


def service_clients(runtime: Runtime) -> tuple[ImageClient, NetworkClient]:
    """The image and network APIs, as the compute service's own user."""
    identity = runtime.identity("compute")
    region = runtime.conf.get("DEFAULT", "region_name")
    return (
        ImageClient(ServiceClient(identity, "image", region)),
        NetworkClient(ServiceClient(identity, "network", region)),
    )


def build_agent(runtime: Runtime) -> WorkerPart:
    images, network = service_clients(runtime)
    driver = load_driver(runtime.conf, images, network.service, runtime.bus)
    agent = ComputeAgent(runtime.conf, runtime.bus, driver, Networking(network), images)
    return WorkerPart("compute-agent", agent.start, agent.stop)
