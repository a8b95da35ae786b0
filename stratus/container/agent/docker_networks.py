"""The Docker networks that stand for Stratus networks on this host, and a container's
endpoints on them: the agent's side of container networking (the network plugin,
``stratus.container.netplugin``, does the rest).

A port the API made for a container is plugged by attaching the container to the Docker
network of the port's network, with the port's IPv4 address asked for (the plugin finds
the port the API reserved by that address, binds it here and plugs its veth) and the port
id as the endpoint's driver option ``stratus.port`` (which is how a detach finds the
endpoint again, even once the port is gone). The Docker network, ``stratus-<network
id>``, is made on demand with this host's plugin as driver and IPAM driver, option
``stratus.net=<network id>`` for both, and every IPv4 subnet of the network as a pool
(Docker lets a container ask for an address only on a network whose subnets were given);
it is removed once no container of this host uses it.

While the container is being created, its ports are bound to this host already (``bind``):
the L2 agent's pass that puts their security groups in force then runs meanwhile, and the
plugin, when Docker plugs them at start, finds it done instead of waiting for it.

A container has at most one port per network: Docker attaches a container to a network
once.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any

import docker
import docker.errors
import docker.types

from stratus.runtime.keyed_locks import KeyedLocks

NETWORK_LABEL = "org.openstack.stratus.network"  # on a Docker network: its Stratus network
NET_OPTION = "stratus.net"
PORT_OPTION = "stratus.port"

LOG = logging.getLogger(__name__)

Subnets = Callable[[str], list[str]]  # a Stratus network's IPv4 subnets (CIDRs)
Binder = Callable[[str], None]  # binds a port (by id) to this host


class NetworkSetupError(Exception):
    """A port cannot be plugged; the message says why."""


def network_name(network_id: str) -> str:
    return f"stratus-{network_id}"


def ipv4_address(port: dict[str, Any]) -> str:
    for fixed in port["fixed_ips"]:
        if ipaddress.ip_address(fixed["ip_address"]).version == 4:
            return str(fixed["ip_address"])
    raise NetworkSetupError(f"Port {port['port_id']} has no IPv4 address to give a container.")


class DockerNetworks:
    def __init__(
        self,
        plugin: str | None,
        subnets: Subnets | None,
        labels: dict[str, str],
        bind: Binder | None = None,
    ) -> None:
        self.plugin = plugin
        self.subnets = subnets
        self.bind = bind
        self.labels = labels  # what marks this host's networks
        self._locks = KeyedLocks()  # network id -> lock

    @contextmanager
    def binding(self, ports: Sequence[dict[str, Any]]) -> Iterator[None]:
        """Bind the ports to this host while the block runs. Best effort: a port this
        cannot bind is bound by the plugin at start, which says why if it cannot either."""
        if self.bind is None or not ports:
            yield
            return
        with ThreadPoolExecutor(len(ports), thread_name_prefix="bind") as pool:
            bound = {p["port_id"]: pool.submit(self.bind, p["port_id"]) for p in ports}
            yield
        for port_id, future in bound.items():
            if future.exception() is not None:
                LOG.info("port %s not bound ahead of its plugging: %s", port_id, future.exception())

    @contextmanager
    def attaching(
        self, client: docker.DockerClient, port: dict[str, Any]
    ) -> Iterator[tuple[str, docker.types.EndpointConfig]]:
        """The name of the port's Docker network (made if need be) and the endpoint to ask
        for; the network is not swept away while the block attaches a container to it."""
        ip = ipv4_address(port)
        with self._locks.hold(port["network_id"]):
            name = self._ensure(client, port["network_id"], ip)
            yield (
                name,
                client.api.create_endpoint_config(
                    ipv4_address=ip,
                    driver_opt={PORT_OPTION: port["port_id"]},
                    mac_address=port["mac_address"],
                ),
            )

    def connect(self, client: docker.DockerClient, container: Any, port: dict[str, Any]) -> None:
        """Attach the container (running or not) to the port's network, unless it is."""
        if self.network_of(container, port["port_id"]) is not None:
            return
        if "none" in container.attrs["NetworkSettings"].get("Networks", {}):
            # Made without a network: Docker attaches it to no other until it leaves none.
            client.api.disconnect_container_from_network(container.id, "none")
        with self.attaching(client, port) as (name, endpoint):
            client.api.connect_container_to_network(
                container.id,
                name,
                ipv4_address=endpoint["IPAMConfig"]["IPv4Address"],
                driver_opt=endpoint["DriverOpts"],
            )

    def disconnect(self, client: docker.DockerClient, container: Any, port_id: str) -> None:
        name = self.network_of(container, port_id)
        if name is not None:
            with suppress(docker.errors.NotFound):
                client.api.disconnect_container_from_network(container.id, name, force=True)
        self.sweep(client)

    @staticmethod
    def network_of(container: Any, port_id: str) -> str | None:
        """The Docker network where the container holds the port, if it does."""
        container.reload()
        networks = container.attrs["NetworkSettings"].get("Networks") or {}
        for name, settings in networks.items():
            if (settings.get("DriverOpts") or {}).get(PORT_OPTION) == port_id:
                return name
        return None

    def sweep(self, client: docker.DockerClient) -> None:
        """Remove this host's Stratus Docker networks that no container uses any more."""
        wanted = [NETWORK_LABEL, *(f"{k}={v}" for k, v in self.labels.items())]
        for network in client.networks.list(filters={"label": wanted}):
            with self._locks.hold(network.attrs["Labels"][NETWORK_LABEL]):
                used = client.containers.list(all=True, filters={"network": network.id})
                if not used:
                    with suppress(docker.errors.NotFound):
                        network.remove()

    def _ensure(self, client: docker.DockerClient, network_id: str, ip: str) -> str:
        name = network_name(network_id)
        try:
            network = client.networks.get(name)
        except docker.errors.NotFound:
            network = None
        if network is not None and not _covers(network, ip):
            # A subnet the network got since: a network no container uses is made again.
            if client.containers.list(all=True, filters={"network": network.id}):
                raise NetworkSetupError(
                    f"Docker network {name} has no subnet for {ip} and is in use; "
                    "it gets the network's new subnets once no container uses it."
                )
            network.remove()
            network = None
        if network is None:
            self._create(client, network_id, name)
        return name

    def _create(self, client: docker.DockerClient, network_id: str, name: str) -> None:
        if not self.plugin or self.subnets is None:
            raise NetworkSetupError("This container agent has no network plugin configured.")
        cidrs = self.subnets(network_id)
        if not cidrs:
            raise NetworkSetupError(f"Network {network_id} has no IPv4 subnet.")
        ipam = docker.types.IPAMConfig(
            driver=self.plugin,
            pool_configs=[docker.types.IPAMPool(subnet=cidr) for cidr in cidrs],
            options={NET_OPTION: network_id},
        )
        client.networks.create(
            name,
            driver=self.plugin,
            options={NET_OPTION: network_id},
            ipam=ipam,
            labels={NETWORK_LABEL: network_id, **self.labels},
        )


def _covers(network: Any, ip: str) -> bool:
    configs = (network.attrs.get("IPAM") or {}).get("Config") or []
    address = ipaddress.ip_address(ip)
    return any(address in ipaddress.ip_network(c["Subnet"]) for c in configs if c.get("Subnet"))
