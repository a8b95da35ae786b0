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

import httpx

from stratus.compute.clients.catalog import ServiceClient, error_message
from stratus.runtime.api.errors import ServiceUnavailable

LOG = logging.getLogger(__name__)

DEVICE_OWNER_PREFIX = "compute:"
TAP_PREFIX = "tap"
BRIDGE_PREFIX = "brq"
NAME_CHARS = 11  # the id characters a tap or bridge name keeps (interface names hold 15)


class NetworkError(Exception):
    """The network service refused (``status`` is its HTTP status) or failed."""

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


class NetworkClient:
    def __init__(self, service: ServiceClient) -> None:
        self.service = service

    # -- the caller's view, for the API's checks ----------------------------------------

    def show_network(self, network_id: str, token: str) -> dict[str, Any] | None:
        return self._show("networks", "network", network_id, token)

    def show_port(self, port_id: str, token: str | None = None) -> dict[str, Any] | None:
        return self._show("ports", "port", port_id, token)

    def list_networks(self, token: str, **filters: Any) -> list[dict[str, Any]]:
        return self._list("networks", token, filters)

    def security_groups(self, project_id: str, token: str) -> list[dict[str, Any]]:
        return self._list("security-groups", token, {"project_id": project_id})

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
        response = self.service.request("POST", "/v2.0/ports", json={"port": port})
        return self._port(response, 201, f"Cannot create a port on network {network_id}")

    def bind_port(self, port_id: str, instance: dict[str, Any], host: str) -> dict[str, Any]:
        body = {"port": _binding(instance, host)}
        response = self.service.request("PUT", f"/v2.0/ports/{port_id}", json=body)
        return self._port(response, 200, f"Cannot bind port {port_id}")

    def unbind_port(self, port_id: str) -> None:
        body = {"port": {"device_id": "", "device_owner": "", "binding:host_id": ""}}
        response = self.service.request("PUT", f"/v2.0/ports/{port_id}", json=body)
        if response.status_code not in (200, 404):
            raise NetworkError(f"Cannot unbind port {port_id}: {error_message(response)}")

    def delete_port(self, port_id: str) -> None:
        response = self.service.request("DELETE", f"/v2.0/ports/{port_id}")
        if response.status_code not in (204, 404):
            raise NetworkError(f"Cannot delete port {port_id}: {error_message(response)}")

    def ports_of(self, instance_uuid: str) -> list[dict[str, Any]]:
        return self._list("ports", None, {"device_id": instance_uuid})

    def network_info(self, port: dict[str, Any], preexisting: bool) -> dict[str, Any]:
        """What a server keeps of one of its ports."""
        network = self._show("networks", "network", port["network_id"], None) or {}
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

    # -- plumbing -----------------------------------------------------------------------

    def _show(self, kind: str, key: str, item_id: str, token: str | None) -> dict | None:
        response = self.service.request("GET", f"/v2.0/{kind}/{item_id}", token=token)
        if response.status_code == 404:
            return None
        _check(response, 200)
        return response.json()[key]

    def _list(self, kind: str, token: str | None, filters: dict[str, Any]) -> list[dict]:
        response = self.service.request("GET", f"/v2.0/{kind}", token=token, params=filters)
        _check(response, 200)
        return response.json()[kind.replace("-", "_")]

    def _port(self, response: httpx.Response, expected: int, what: str) -> dict[str, Any]:
        if response.status_code != expected:
            raise NetworkError(f"{what}: {error_message(response)}", response.status_code)
        return response.json()["port"]


def _binding(instance: dict[str, Any], host: str) -> dict[str, Any]:
    return {
        "device_id": instance["uuid"],
        "device_owner": DEVICE_OWNER_PREFIX + (instance.get("availability_zone") or "nova"),
        "binding:host_id": host,
    }


def _check(response: httpx.Response, expected: int) -> None:
    if response.status_code != expected:
        raise ServiceUnavailable(f"The network service failed: {error_message(response)}")
