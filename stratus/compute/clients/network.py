"""The network service (Neutron v2.0), as the compute service uses it.

The API checks what a caller asks for with the caller's token (a network or port it
cannot see does not exist for it); the agent creates, binds and deletes the server's
ports with the service token. ``network_info`` is what a server keeps of its ports:
``[{"port_id", "network_id", "network_label", "mac_address", "fixed_ips":
[{"ip_address", "version", "subnet_id"}], "preexisting", "devname", "bridge"}]``.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from stratus.runtime.clients.network import NetworkApi, NetworkError

__all__ = ["NetworkClient", "NetworkError"]

LOG = logging.getLogger(__name__)

DEVICE_OWNER_PREFIX = "compute:"
TAP_PREFIX = "tap"
BRIDGE_PREFIX = "brq"
NAME_CHARS = 11  # the id characters a tap or bridge name keeps (interface names hold 15)


class NetworkClient(NetworkApi):
    """The network API with what servers need besides: their ports made, bound and
    described for the agent."""

    def auto_allocated_network(self, project_id: str, token: str) -> str | None:
        """The project's automatically allocated network (made now if need be)."""
        response = self.service.request(
            "GET", f"/v2.0/auto-allocated-topology/{project_id}", token=token
        )
        if response.status_code != 200:
            return None
        return response.json()["auto_allocated_topology"]["id"]

    # -- the agent's work, as the service -----------------------------------------------

    def create_port(
        self,
        instance: dict[str, Any],
        network_id: str,
        host: str,
        security_groups: list[str] | None,
        fixed_ip: str | None = None,
    ) -> dict[str, Any]:
        port: dict[str, Any] = {
            "network_id": network_id,
            "project_id": instance["project_id"],
            **_binding(instance, host),
        }
        if security_groups is not None:
            port["security_groups"] = security_groups
        if fixed_ip:
            port["fixed_ips"] = [{"ip_address": fixed_ip}]
        return self.new_port(port)

    def bind_port(self, port_id: str, instance: dict[str, Any], host: str) -> dict[str, Any]:
        return self.update_port(port_id, _binding(instance, host), what="bind")

    def ports_of(self, instance_uuid: str) -> list[dict[str, Any]]:
        return self.list_ports(None, device_id=instance_uuid)

    def network_info(
        self, port: dict[str, Any], preexisting: bool, network: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """What a server keeps of one of its ports; ``network`` (its ``name`` and ``mtu``,
        when the caller knows them) spares reading the port's network."""
        if network is None:
            network = self.show_network(port["network_id"], None) or {}
        return {
            "port_id": port["id"],
            "network_id": port["network_id"],
            "network_label": network.get("name") or port["network_id"],
            "mac_address": port.get("mac_address"),
            "fixed_ips": [
                {
                    "ip_address": ip["ip_address"],
                    "version": ipaddress.ip_address(ip["ip_address"]).version,
                    "subnet_id": ip.get("subnet_id"),
                }
                for ip in port.get("fixed_ips", [])
            ],
            "mtu": network.get("mtu"),
            "preexisting": preexisting,
            "devname": TAP_PREFIX + port["id"][:NAME_CHARS],
            "bridge": BRIDGE_PREFIX + port["network_id"][:NAME_CHARS],
        }


def _binding(instance: dict[str, Any], host: str) -> dict[str, Any]:
    return {
        "device_id": instance["uuid"],
        "device_owner": DEVICE_OWNER_PREFIX + (instance.get("availability_zone") or "nova"),
        "binding:host_id": host,
    }
