"""Names of the devices that wire ports and networks on a host, and the two wiring steps
the agents and port plugging share.

Every port's device in its network's bridge is ``tap`` + the first 11 characters of the
port id, whatever it is: a VM's tap, the host end of a container's veth, or the host end
of the veth to a DHCP server (``ns-``) or a router (``qr-``, ``qg-``) in its namespace.
That is how the L2 agent finds which port a bridge port belongs to.
"""

from __future__ import annotations

from collections.abc import Iterable

from stratus.host.errors import HostError
from stratus.host.names import bridge_name
from stratus.host.netlink import Netlink
from stratus.network.agent.owned import Owned

PORT_PREFIX = "tap"
DHCP_PREFIX = "ns-"
ROUTER_INTERFACE_PREFIX = "qr-"
ROUTER_GATEWAY_PREFIX = "qg-"
_ID_CHARS = 11
_IFNAMSIZ = 15


def port_device(port_id: str) -> str:
    """The port's device in its network's bridge."""
    return PORT_PREFIX + port_id[:_ID_CHARS]


def inner_device(prefix: str, port_id: str) -> str:
    """The namespace end of a port's veth (``ns-``, ``qr-`` or ``qg-``)."""
    return prefix + port_id[:_ID_CHARS]


def vxlan_device(network_id: str) -> str:
    """A VXLAN network's device on this host (named by network, not by VNI, so that two
    clouds on one host never contend for a name)."""
    return "vx-" + network_id[:_ID_CHARS]


def patch_devices(network_id: str) -> tuple[str, str]:
    """The veth pair joining a flat network's bridge (first) to a host bridge (second)."""
    return "pn-" + network_id[:_ID_CHARS], "ph-" + network_id[:_ID_CHARS]


def vlan_device(interface: str, vlan_id: int) -> str:
    suffix = f".{vlan_id}"
    return interface[: _IFNAMSIZ - len(suffix)] + suffix


def ensure_bridge(host: Netlink, owned: Owned, network_id: str) -> str:
    """The network's bridge, recorded for the L2 agent (which removes it when the network
    has nothing on this host any more)."""
    bridge = bridge_name(network_id)
    if host.index(bridge) is None:
        owned.claim(bridge)
    try:
        host.ensure_bridge(bridge)
    except HostError:
        if host.index(bridge) is None:
            raise
        host.ensure_bridge(bridge)  # another agent made it meanwhile
    return bridge


def wire_veth(
    host: Netlink,
    bridge: str | None,
    device: str,
    peer: str,
    *,
    namespace: str | None,
    mac: str,
    mtu: int | None,
    addresses: Iterable[str] | None = None,
) -> None:
    """A veth from ``bridge`` (its end ``device``; left out of any bridge when None) to
    ``peer`` in ``namespace`` (the host's when None). The peer carries the port's MAC and,
    if given, exactly ``addresses`` before the device joins the bridge; both ends are up
    with the network's MTU."""
    if host.index(device) is None:
        host.ensure_veth(device, peer, peer_namespace=namespace, mtu=mtu)
    else:
        host.set_link(device, mtu=mtu, up=True)
    with Netlink(namespace) as inside:
        link = inside.link(peer)
        if link is None:
            where = f" in namespace {namespace}" if namespace else ""
            raise HostError(f"veth {device} has no peer {peer}{where}")
        changed_mac = mac.lower() if (link.mac or "").lower() != mac.lower() else None
        changed_mtu = mtu if mtu and link.mtu != mtu else None
        inside.set_link(peer, mac=changed_mac, mtu=changed_mtu, up=None if link.up else True)
        if addresses is not None:
            inside.set_addresses(peer, addresses)
    if bridge is not None:
        host.attach(device, bridge)
