"""Names of the host objects that belong to a network or a router.

Linux interface names hold at most 15 characters, so a bridge carries only a prefix of
its network's id; namespace names have no such limit and carry the whole id.
"""

BRIDGE_PREFIX = "brq"
_BRIDGE_ID_CHARS = 11


def bridge_name(network_id: str) -> str:
    """The Linux bridge of a network, the same on every host."""
    return BRIDGE_PREFIX + network_id[:_BRIDGE_ID_CHARS]


def dhcp_namespace(network_id: str) -> str:
    return f"qdhcp-{network_id}"


def router_namespace(router_id: str) -> str:
    return f"qrouter-{router_id}"
