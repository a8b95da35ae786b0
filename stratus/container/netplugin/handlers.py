"""The libnetwork remote network driver and remote IPAM driver protocols: one method per
``POST /<Interface>.<Method>``, each taking and returning the JSON body.

What Docker does, in order (checked against Docker Engine 20.10):

- ``docker network create``: ``IpamDriver.RequestPool`` (``--subnet``, ``--ipam-opt``),
  ``IpamDriver.RequestAddress`` of the gateway (unless the pool's ``Data`` named it),
  ``NetworkDriver.CreateNetwork`` (``--opt`` under ``com.docker.network.generic``, the
  pools by CIDR); on failure it gives the pool back.
- a container joining (at its start, or ``docker network connect`` while it runs):
  ``RequestAddress`` (``--ip``, or none), ``CreateEndpoint`` (the address; the MAC only
  if one was asked for: the response gives the port's otherwise), ``Join`` (the veth
  peer Docker moves into the container as ``eth<n>``, the gateway),
  ``ProgramExternalConnectivity``;
- leaving (stop, disconnect, removal): ``RevokeExternalConnectivity``, ``Leave``,
  ``DeleteEndpoint``, ``ReleaseAddress``;
- ``docker network rm``: ``DeleteNetwork``, ``ReleaseAddress`` of the gateway,
  ``ReleasePool``.

A request that cannot be done raises :class:`PluginError`: Docker shows its message to the
user.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Callable
from typing import Any

from stratus.container.netplugin.errors import PluginError
from stratus.container.netplugin.mapping import GATEWAY, Mapping
from stratus.container.netplugin.ports import Ports
from stratus.container.netplugin.state import Address, Endpoint, State, address_key
from stratus.network.plugging import peer_name

LOG = logging.getLogger(__name__)

ADDRESS_SPACE = "stratus"
DST_PREFIX = "eth"
PORT_OPTION = "stratus.port"  # an endpoint option: the port the container agent plugs

Body = dict[str, Any]


class Plugin:
    def __init__(self, state: State, mapping: Mapping, ports: Ports) -> None:
        self.state = state
        self.mapping = mapping
        self.ports = ports
        # Held while a port is made and recorded, and by reconciliation while it looks for
        # ports made but not recorded.
        self.making = threading.Lock()

    def routes(self) -> dict[str, Callable[[Body], Body]]:
        """Each request path and what answers it."""
        return {
            "/Plugin.Activate": lambda _: {"Implements": ["NetworkDriver", "IpamDriver"]},
            "/NetworkDriver.GetCapabilities": lambda _: {
                "Scope": "local",
                "ConnectivityScope": "local",
            },
            "/NetworkDriver.CreateNetwork": self.create_network,
            "/NetworkDriver.DeleteNetwork": self.delete_network,
            "/NetworkDriver.CreateEndpoint": self.create_endpoint,
            "/NetworkDriver.EndpointOperInfo": self.endpoint_info,
            "/NetworkDriver.DeleteEndpoint": self.delete_endpoint,
            "/NetworkDriver.Join": self.join,
            "/NetworkDriver.Leave": _nothing,
            "/NetworkDriver.DiscoverNew": _nothing,
            "/NetworkDriver.DiscoverDelete": _nothing,
            "/NetworkDriver.ProgramExternalConnectivity": _nothing,
            "/NetworkDriver.RevokeExternalConnectivity": _nothing,
            "/IpamDriver.GetCapabilities": lambda _: {
                "RequiresMACAddress": False,
                "RequiresRequestReplay": False,
            },
            "/IpamDriver.GetDefaultAddressSpaces": lambda _: {
                "LocalDefaultAddressSpace": ADDRESS_SPACE,
                "GlobalDefaultAddressSpace": ADDRESS_SPACE,
            },
            "/IpamDriver.RequestPool": self.request_pool,
            "/IpamDriver.ReleasePool": self.release_pool,
            "/IpamDriver.RequestAddress": self.request_address,
            "/IpamDriver.ReleaseAddress": self.release_address,
        }

    # --- IPAM -----------------------------------------------------------------------

    def request_pool(self, body: Body) -> Body:
        pool_id, pool = self.mapping.request_pool(
            body.get("Pool") or "",
            body.get("SubPool") or "",
            body.get("Options") or {},
            bool(body.get("V6")),
        )
        data = {}
        if pool.gateway:
            data[GATEWAY] = self.mapping.gateway(pool_id, None)
        return {"PoolID": pool_id, "Pool": pool.cidr, "Data": data}

    def release_pool(self, body: Body) -> Body:
        self.mapping.release_pool(body["PoolID"])
        return {}

    def request_address(self, body: Body) -> Body:
        pool_id = body["PoolID"]
        ip = body.get("Address") or None
        if (body.get("Options") or {}).get("RequestAddressType") == GATEWAY:
            return {"Address": self.mapping.gateway(pool_id, ip), "Data": {}}
        pool = self.mapping.bound_pool(pool_id)
        subnet = ipaddress.IPv4Network(pool.subnet_cidr or "")
        if ip is not None and ipaddress.ip_address(ip) not in subnet:
            raise PluginError(f"Address {ip} is not in subnet {subnet}.")
        with self.making:
            port, created = self.ports.reserve(pool, ip)
            held = [a for a in port["fixed_ips"] if a["subnet_id"] == pool.subnet_id]
            address = (held or port["fixed_ips"])[0]["ip_address"]
            key = address_key(pool_id, address)
            with self.state.change() as state:
                taken = [a for a in state.addresses.values() if a.port_id == port["id"]]
                if not taken:
                    state.addresses[key] = Address(pool_id, address, port["id"], created)
        if taken:
            raise PluginError(f"Address {address} is already in use by another endpoint.")
        return {"Address": f"{address}/{subnet.prefixlen}", "Data": {}}

    def release_address(self, body: Body) -> Body:
        key = address_key(body["PoolID"], body.get("Address") or "")
        with self.state.locked() as state:
            address = state.addresses.get(key)
            holders = {i: e for i, e in state.endpoints.items() if e.address == key}
        if address is None:
            return {}  # a gateway, or an address its endpoint let go of already
        for endpoint_id, endpoint in holders.items():  # its DeleteEndpoint failed
            self.drop_endpoint(endpoint_id, endpoint)
        self.ports.release(address.port_id, address.created)
        with self.state.change() as state:
            state.addresses.pop(key, None)
        return {}

    # --- network driver -------------------------------------------------------------

    def create_network(self, body: Body) -> Body:
        network_id = self.mapping.create_network(
            body["NetworkID"], body.get("Options") or {}, body.get("IPv4Data") or []
        )
        LOG.info("Docker network %s is Stratus network %s", body["NetworkID"], network_id)
        return {}

    def delete_network(self, body: Body) -> Body:
        self.mapping.delete_network(body["NetworkID"])
        return {}

    def create_endpoint(self, body: Body) -> Body:
        docker_network, endpoint_id = body["NetworkID"], body["EndpointID"]
        interface = body.get("Interface") or {}
        key, address = self._address_of(docker_network, interface.get("Address") or "")
        port = self.ports.api.show_port(address.port_id)
        if port is None:
            raise PluginError(f"Port {address.port_id} of address {address.ip} is gone.")
        asked = (body.get("Options") or {}).get(PORT_OPTION)
        if asked and asked != address.port_id:
            raise PluginError(
                f"Address {address.ip} is held by port {address.port_id}, not port {asked}."
            )
        mac = interface.get("MacAddress") or ""
        if mac and mac.lower() != port["mac_address"].lower():
            raise PluginError(
                f"The container asked for MAC address {mac}, but its port {port['id']} has "
                f"{port['mac_address']}: leave the MAC address out."
            )
        with self.state.change() as state:
            state.endpoints[endpoint_id] = Endpoint(
                docker_network, key, address.port_id, address.created
            )
        try:
            self.ports.plug(port, address.created, endpoint_id)
        except PluginError:
            with self.state.change() as state:
                state.endpoints.pop(endpoint_id, None)
            raise
        return {} if mac else {"Interface": {"MacAddress": port["mac_address"]}}

    def endpoint_info(self, body: Body) -> Body:
        with self.state.locked() as state:
            endpoint = state.endpoints.get(body["EndpointID"])
        return {"Value": {"port_id": endpoint.port_id} if endpoint else {}}

    def join(self, body: Body) -> Body:
        endpoint = self._endpoint(body["EndpointID"])
        with self.state.locked() as state:
            address = state.addresses.get(endpoint.address)
            pool = state.pools.get(address.pool_id) if address else None
        reply: Body = {
            "InterfaceName": {"SrcName": peer_name(endpoint.port_id), "DstPrefix": DST_PREFIX},
            # Never a second interface to Docker's gateway bridge: the Stratus network
            # (its router) is the container's only way out.
            "DisableGatewayService": True,
        }
        if pool is not None and pool.gateway:
            reply["Gateway"] = pool.gateway
        return reply

    def delete_endpoint(self, body: Body) -> Body:
        endpoint_id = body["EndpointID"]
        with self.state.locked() as state:
            endpoint = state.endpoints.get(endpoint_id)
        if endpoint is not None:
            self.drop_endpoint(endpoint_id, endpoint)
        return {}

    def drop_endpoint(self, endpoint_id: str, endpoint: Endpoint) -> None:
        """Unplug the endpoint's port (deleting it if the plugin made it) and forget it."""
        self.ports.unplug(endpoint.port_id, endpoint.created)
        with self.state.change() as state:
            state.endpoints.pop(endpoint_id, None)
            if endpoint.created:  # its port is gone with it
                state.addresses.pop(endpoint.address, None)

    # --- helpers --------------------------------------------------------------------

    def _address_of(self, docker_network: str, cidr: str) -> tuple[str, Address]:
        if not cidr:
            raise PluginError(
                "The endpoint has no IPv4 address: create the network with --ipam-driver set "
                "to the same plugin as --driver."
            )
        ip = cidr.split("/")[0]
        with self.state.locked() as state:
            for pool_id, pool in state.pools.items():
                key = address_key(pool_id, ip)
                if pool.docker_network == docker_network and key in state.addresses:
                    return key, state.addresses[key]
        raise PluginError(f"Address {ip} was not given by this plugin's IPAM driver.")

    def _endpoint(self, endpoint_id: str) -> Endpoint:
        with self.state.locked() as state:
            endpoint = state.endpoints.get(endpoint_id)
        if endpoint is None:
            raise PluginError(f"Endpoint {endpoint_id} is unknown to this plugin.")
        return endpoint


def _nothing(_: Body) -> Body:
    return {}
