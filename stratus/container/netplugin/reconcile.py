"""Making the plugin's record and the host match what Docker holds (principle 3): at start
and every interval, whatever Docker no longer has goes.

- an endpoint Docker no longer lists (its container was removed while the plugin was
  down, say): its veth is removed, and its port deleted if the plugin made it, else
  unbound;
- a Docker network that is gone, and the pools of networks that are gone (or that waited
  for their ``CreateNetwork`` too long);
- an address no endpoint of Docker's holds: its port is deleted if the plugin made it;
- a port the plugin made but never recorded (it died in between): deleted.

Records made by this process within ``grace`` seconds are left alone: Docker may be
between two calls about them (it stores an endpoint only after ``CreateEndpoint``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker

from stratus.container.netplugin.handlers import Plugin
from stratus.container.netplugin.mapping import PENDING_TTL
from stratus.container.netplugin.state import now

LOG = logging.getLogger(__name__)


@dataclass
class DockerView:
    """What Docker holds of this plugin's: networks, endpoints, and the addresses in use
    (by endpoints, or as a network's auxiliary addresses), as (network id, IP)."""

    networks: set[str] = field(default_factory=set)
    endpoints: set[str] = field(default_factory=set)
    addresses: set[tuple[str, str]] = field(default_factory=set)


def docker_view(client: docker.DockerClient, driver: str) -> DockerView:
    view = DockerView()
    for summary in client.api.networks(filters={"driver": driver}):
        try:
            network: dict[str, Any] = client.api.inspect_network(summary["Id"])
        except docker.errors.NotFound:
            continue
        view.networks.add(network["Id"])
        for endpoint in (network.get("Containers") or {}).values():
            view.endpoints.add(endpoint["EndpointID"])
            ip = (endpoint.get("IPv4Address") or "").split("/")[0]
            view.addresses.add((network["Id"], ip))
        for config in (network.get("IPAM") or {}).get("Config") or []:
            for ip in (config.get("AuxiliaryAddresses") or {}).values():
                view.addresses.add((network["Id"], ip))
    return view


class Reconciler:
    def __init__(
        self, plugin: Plugin, view: Callable[[], DockerView], grace: float, started: float
    ) -> None:
        self.plugin = plugin
        self.view = view
        self.grace = grace
        self.started = started

    def _settled(self, since: float) -> bool:
        return since < self.started or now() - since > self.grace

    def run(self) -> None:
        view = self.view()
        self._endpoints(view)
        self._networks_and_pools(view)
        self._addresses(view)
        self._unrecorded()

    def _endpoints(self, view: DockerView) -> None:
        state = self.plugin.state
        with state.locked():
            gone = {
                endpoint_id: endpoint
                for endpoint_id, endpoint in state.endpoints.items()
                if endpoint_id not in view.endpoints and self._settled(endpoint.since)
            }
        for endpoint_id, endpoint in gone.items():
            LOG.info("endpoint %s is gone from Docker: unplugging its port", endpoint_id)
            self.plugin.drop_endpoint(endpoint_id, endpoint)

    def _networks_and_pools(self, view: DockerView) -> None:
        with self.plugin.state.change() as state:
            for docker_network, network in list(state.networks.items()):
                if docker_network not in view.networks and self._settled(network.since):
                    del state.networks[docker_network]
            for pool_id, pool in list(state.pools.items()):
                if pool.docker_network is None:
                    stale = now() - pool.since > PENDING_TTL
                else:
                    stale = pool.docker_network not in view.networks and self._settled(pool.since)
                if stale:
                    del state.pools[pool_id]

    def _addresses(self, view: DockerView) -> None:
        state = self.plugin.state
        with state.locked():
            used = {endpoint.address for endpoint in state.endpoints.values()}
            loose = {}
            for key, address in state.addresses.items():
                pool = state.pools.get(address.pool_id)
                held = pool is not None and (pool.docker_network, address.ip) in view.addresses
                if not held and key not in used and self._settled(address.since):
                    loose[key] = address
        for key, address in loose.items():
            LOG.info("address %s is held by nothing in Docker: letting its port go", address.ip)
            self.plugin.ports.release(address.port_id, address.created)
            with state.change():
                state.addresses.pop(key, None)

    def _unrecorded(self) -> None:
        with self.plugin.making:
            with self.plugin.state.locked() as state:
                known = {a.port_id for a in state.addresses.values()}
            for port_id in self.plugin.ports.unrecorded(known):
                LOG.info("deleting port %s, made by this plugin but never recorded", port_id)
                self.plugin.ports.release(port_id, created=True)
