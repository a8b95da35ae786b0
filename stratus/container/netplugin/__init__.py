"""The Docker network plugin (the part ``container-netplugin``; the role Kuryr plays in
OpenStack): a libnetwork remote network driver and remote IPAM driver that puts Docker
containers on Stratus networks, with the same ports, security groups, DHCP entries and
routers as VMs.

A plain Docker user on a container host::

    docker network create --driver stratus --ipam-driver stratus \\
        --opt stratus.net=<network id> n1
    docker run --network n1 ...        # the container gets a port's IP and MAC

(``--subnet <cidr>`` picks the subnet of a network with several, and lets ``--ip`` ask for
an address; ``--ipam-opt stratus.net=<id>`` also names the network to the IPAM driver,
so that ``docker network inspect`` shows the subnet's CIDR and gateway.) The plugin's
name is ``[container] network_plugin_name``. It calls the network API as the container
service's own user.

Modules: :mod:`.server` (the HTTP server on Docker's plugin socket), :mod:`.handlers`
(the protocol), :mod:`.mapping` (Docker networks and pools to Stratus networks and
subnets), :mod:`.ports` (ports and their veths, through port plugging), :mod:`.state`
(what survives a restart), :mod:`.reconcile` (removing what Docker no longer holds).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import docker

from stratus.container import options  # noqa: F401 - declares the [container] options
from stratus.container.netplugin.handlers import Plugin
from stratus.container.netplugin.mapping import Mapping
from stratus.container.netplugin.ports import Ports
from stratus.container.netplugin.reconcile import DockerView, Reconciler, docker_view
from stratus.container.netplugin.server import PluginServer
from stratus.container.netplugin.state import State, now
from stratus.network.plugging import Plugging
from stratus.runtime.bus import Bus
from stratus.runtime.clients.catalog import ServiceClient
from stratus.runtime.clients.network import NetworkApi
from stratus.runtime.config import Config
from stratus.runtime.parts import WorkerPart
from stratus.runtime.process import Runtime

LOG = logging.getLogger(__name__)

GRACE = 60.0  # seconds a record of this process is safe from reconciliation


def state_path(data_dir: Path, name: str) -> Path:
    return data_dir / "container-netplugin" / f"{name}.json"


class NetworkPlugin:
    """The plugin on its socket, reconciled at start and every ``interval`` seconds."""

    def __init__(
        self,
        name: str,
        plugin: Plugin,
        view: Callable[[], DockerView],
        interval: float,
        grace: float = GRACE,
    ) -> None:
        self.name = name
        self.plugin = plugin
        self.reconciler = Reconciler(plugin, view, grace, started=now())
        self.interval = interval
        self.server = PluginServer(name, plugin.routes())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self.server.start()
        self._thread = threading.Thread(target=self._loop, name="netplugin-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.server.stop()

    def reconcile(self) -> None:
        self.reconciler.run()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.reconcile()
            except Exception as exc:  # Docker or the network API may be starting: retry
                LOG.warning("network plugin %s: reconciliation failed: %s", self.name, exc)
            self._stop.wait(self.interval)


def build(
    conf: Config,
    network: ServiceClient,
    bus: Bus,
    *,
    name: str | None = None,
    interval: float | None = None,
    grace: float = GRACE,
) -> NetworkPlugin:
    """The plugin of this host (``conf``'s ``[DEFAULT] host``, whose L2 agent wires its
    ports), calling the network API through ``network``."""
    name = name or conf.container.network_plugin_name
    host = conf.get("DEFAULT", "host")
    state = State(state_path(conf.data_dir, name))
    api = NetworkApi(network)
    plugin = Plugin(
        state, Mapping(api, state), Ports(api, Plugging(network, bus, conf), host, name)
    )
    url = conf.container.docker_url
    clients: list[docker.DockerClient] = []

    def view() -> DockerView:
        if not clients:  # made on first use: Docker may start after the plugin
            clients.append(docker.DockerClient(base_url=url, timeout=60))
        return docker_view(clients[0], name)

    return NetworkPlugin(
        name,
        plugin,
        view,
        interval if interval is not None else conf.container.report_interval,
        grace,
    )


def build_part(runtime: Runtime) -> WorkerPart:
    conf = runtime.conf
    region = conf.get("DEFAULT", "region_name")
    network = ServiceClient(runtime.identity("container"), "network", region)
    plugin = build(conf, network, runtime.bus)
    return WorkerPart("container-netplugin", plugin.start, plugin.stop)
