"""The container agent part: serves its host's ``container-agent`` topic and reconciles."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from stratus.container import options  # noqa: F401 - declares the [container] options
from stratus.container.agent.driver import Driver, ImageData
from stratus.container.agent.manager import ContainerAgent
from stratus.container.images import ImageClient
from stratus.container.rpc import AGENT_TOPIC
from stratus.container.subnets import ipv4_subnets
from stratus.network.agent.loop import hint_l2
from stratus.runtime.bus import Bus, Listener
from stratus.runtime.clients.catalog import ServiceClient
from stratus.runtime.clients.network import NetworkApi
from stratus.runtime.parts import WorkerPart
from stratus.runtime.process import Runtime

LOG = logging.getLogger(__name__)
IMAGE_CHECK_INTERVAL = 600.0  # seconds between two looks for images no container uses


class AgentWorker:
    """Serve the topic, reconcile at start and every ``interval`` seconds, and report a
    container as soon as the engine says its state changed."""

    def __init__(self, runtime: Runtime, agent: ContainerAgent, interval: float) -> None:
        self.runtime = runtime
        self.agent = agent
        self.interval = interval
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener: Listener | None = None

    def start(self) -> None:
        self._listener = self.runtime.bus.serve(AGENT_TOPIC, self.agent, host=self.agent.host)
        for target, name in ((self._loop, "container-agent"), (self._watch, "container-events")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self.agent.driver.close_changes()
        for thread in self._threads:
            thread.join(timeout=30)
        if self._listener:
            self._listener.stop()

    def _loop(self) -> None:
        images_due = 0.0  # when unused images are looked for next
        while not self._stop.is_set():
            try:
                self.agent.reconcile()
                if time.monotonic() >= images_due:
                    images_due = time.monotonic() + IMAGE_CHECK_INTERVAL
                    self.agent.forget_unused_images()
            except Exception:  # keep reconciling; the next pass may succeed
                LOG.exception("container agent reconciliation failed")
            self._stop.wait(self.interval)

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                for uuid in self.agent.driver.changes():
                    self.agent.refresh(uuid)
            except Exception as exc:  # the engine went away: the reconcile loop reports it
                LOG.debug("container engine events ended: %s", exc)
            self._stop.wait(self.interval)


def build_agent(runtime: Runtime, driver: Driver) -> ContainerAgent:
    conf = runtime.conf.container
    images = ImageClient(conf.image_url)
    identity = runtime.identity("container")

    def image_data(image_id: str) -> ImageData:
        return lambda: images.download(image_id, identity.service_token())

    host = runtime.conf.get("DEFAULT", "host")
    return ContainerAgent(
        runtime.bus,
        driver,
        host,
        conf.availability_zone,
        image_data,
        images=images,
        console_url=runtime.conf.websocket_proxy.base_url,
        image_max_age=conf.image_cache_max_age,
    )


def port_binder(api: NetworkApi, bus: Bus, host: str) -> Callable[[str], None]:
    """Binds a port bound nowhere to this host, as the container service (a port bound
    elsewhere is left as it is: the plugin refuses it, saying why), and has this host's L2
    agent wire it at once, so that the plugin finds it wired."""

    def bind(port_id: str) -> None:
        port = api.show_port(port_id)
        if port is not None and not port.get("binding:host_id"):
            binding = {"binding:host_id": host}
            api.update_port(port_id, binding, what="bind", revision=port["revision_number"])
            hint_l2(bus, host, urgent=True)

    return bind


def network_subnets(api: NetworkApi) -> Callable[[str], list[str]]:
    """A network's IPv4 subnets (CIDRs, in the network's order), from the network API."""

    def subnets(network_id: str) -> list[str]:
        network = api.show_network(network_id, None)
        return [s["cidr"] for s in ipv4_subnets(api, network)] if network else []

    return subnets


def build_part(runtime: Runtime) -> WorkerPart:
    from stratus.container.agent.docker import DockerDriver

    region = runtime.conf.get("DEFAULT", "region_name")
    network = NetworkApi(ServiceClient(runtime.identity("container"), "network", region))
    driver = DockerDriver(
        runtime.conf.container.docker_url,
        runtime.conf.get("DEFAULT", "host"),
        network_plugin=runtime.conf.container.network_plugin_name,
        subnets=network_subnets(network),
        bind=port_binder(network, runtime.bus, runtime.conf.get("DEFAULT", "host")),
    )
    worker = AgentWorker(
        runtime, build_agent(runtime, driver), runtime.conf.container.report_interval
    )
    return WorkerPart("container-agent", worker.start, worker.stop)
