"""A server's ports, made on its host: what the API checked and recorded in the server's
``request["networks"]`` (``{"network_id", "network", "fixed_ip"}`` or ``{"port_id"}``
each) becomes bound ports; on delete, ports the server made go and ports it was given
are let go. An interface attached later is one more such item, made or let go the same
way."""

from __future__ import annotations

import logging
from typing import Any

from stratus.compute.clients.network import NetworkClient

LOG = logging.getLogger(__name__)


class Networking:
    def __init__(self, client: NetworkClient) -> None:
        self.client = client

    def allocate(
        self,
        instance: dict[str, Any],
        host: str,
        ports: dict[str, dict[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        """Create or bind the server's ports on ``host``; all or none. ``ports``, when
        given, receives each port as the network API returned it, by id (for plugging,
        which need not read them again)."""
        made: list[dict[str, Any]] = []
        try:
            for item in instance["request"].get("networks") or []:
                port, vif = self._allocate_one(instance, host, item)
                made.append(vif)
                if ports is not None:
                    ports[port["id"]] = port
        except Exception:
            self.deallocate(instance, made)
            raise
        return made

    def allocate_one(
        self, instance: dict[str, Any], host: str, item: dict[str, Any]
    ) -> dict[str, Any]:
        """Bind the port ``item`` names, or create one on its network; its network_info
        entry."""
        return self._allocate_one(instance, host, item)[1]

    def _allocate_one(
        self, instance: dict[str, Any], host: str, item: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if item.get("port_id"):
            port = self.client.bind_port(item["port_id"], instance, host)
            return port, self.client.network_info(port, True)
        security_groups = instance["request"].get("security_group_ids")
        port = self.client.create_port(
            instance, item["network_id"], host, security_groups, item.get("fixed_ip")
        )
        return port, self.client.network_info(port, False, item.get("network"))

    def release(self, vif: dict[str, Any]) -> None:
        """Delete a port the server made; unbind one it was given."""
        if vif["preexisting"]:
            self.client.unbind_port(vif["port_id"])
        else:
            self.client.delete_port(vif["port_id"])

    def deallocate(
        self, instance: dict[str, Any], network_info: list[dict[str, Any]] | None = None
    ) -> None:
        """Delete the ports the server made and unbind the ones it was given. Without
        ``network_info`` (a build that died half way), every port bound to it is found."""
        requested = instance["request"].get("networks") or []
        if network_info is None and not requested:
            return
        given = {
            item["port_id"]
            for item in instance["request"].get("networks") or []
            if item.get("port_id")
        }
        if network_info is None:
            ports = [
                {"port_id": p["id"], "preexisting": p["id"] in given}
                for p in self.client.ports_of(instance["uuid"])
            ]
        else:
            ports = network_info
        for port in ports:
            self.release({**port, "preexisting": port["preexisting"] or port["port_id"] in given})
