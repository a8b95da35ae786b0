"""A network's IPv4 subnets in the order the network lists them (its first is the one a
container gets when nothing else says which): shared by the agent, which makes a Docker
network of them, and the network plugin, which maps Docker's pools to them."""

from __future__ import annotations

from typing import Any

from stratus.runtime.clients.network import NetworkApi


def ipv4_subnets(api: NetworkApi, network: dict[str, Any]) -> list[dict[str, Any]]:
    """``network``'s IPv4 subnets (as the network API shows them), as the container
    service sees them."""
    listed = api.list_subnets(None, network_id=network["id"], ip_version=4)
    order = {subnet_id: i for i, subnet_id in enumerate(network.get("subnets", []))}
    return sorted(listed, key=lambda s: order.get(s["id"], len(order)))
