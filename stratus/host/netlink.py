"""Links, bridges, VLAN and VXLAN devices, FDB entries, addresses and routes, over netlink.

One ``Netlink`` holds one rtnetlink socket in one namespace (the host's by default) and
reuses it for every call: no ``ip`` process per operation. Every ``ensure_*`` call
succeeds when the object already exists as asked, and replaces it when it exists
differently; every ``delete_*`` call succeeds when the object is already gone. A
``Netlink`` is not thread-safe: use one per thread.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl.ifaddrmsg import IFA_F_NODAD

from stratus.host import namespaces
from stratus.host.errors import HostError
from stratus.host.names import BRIDGE_PREFIX

FLOOD_MAC = "00:00:00:00:00:00"
"""The FDB address of a VXLAN device's flood entries (broadcast, unknown unicast)."""

VXLAN_PORT = 4789
SYS_NET = Path("/sys/class/net")  # the host's links, a folder each
_NUD_NOARP_PERMANENT = 0x40 | 0x80
_NTF_SELF = 0x02
_SCOPE_LINK = 253
_IFF_UP = 0x1
_MAIN_TABLE = 254
_RTN_UNICAST = 1
_Wanted = dict[str | tuple[str, ...], Any]
_REPORTED_KIND = {"tuntap": "tun"}  # the kind a link is made with -> the kind it reports


@dataclass(frozen=True)
class Link:
    name: str
    index: int
    kind: str | None  # "bridge", "veth", "vxlan", "tun" ...; None for a physical device
    mac: str | None
    mtu: int
    up: bool
    master: int | None  # index of the bridge it is a port of


class Netlink:
    """Netlink operations inside one network namespace (``None``: the host's)."""

    def __init__(self, namespace: str | None = None) -> None:
        self.namespace = namespace
        try:
            fd = namespaces.netlink_socket(namespace) if namespace else None
            self._ipr = IPRoute(fileno=fd)
        except (OSError, HostError) as e:
            raise HostError(f"cannot open netlink in namespace {namespace}: {e}") from e

    def close(self) -> None:
        self._ipr.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- links ---------------------------------------------------------------------

    def index(self, name: str) -> int | None:
        """The interface index of ``name``, or None when there is no such link. In the
        host's namespace one ioctl answers (agents ask this for every device of every
        pass); pyroute2's lookup dumps every link."""
        if self.namespace is None:
            try:
                return socket.if_nametoindex(name)
            except OSError:
                return None
        found = self._ipr.link_lookup(ifname=name)
        return found[0] if found else None

    def link(self, name: str) -> Link | None:
        """What ``name`` is now, or None when there is no such link."""
        index = self.index(name)
        if index is None:
            return None
        (msg,) = self._ipr.link("get", index=index)
        return Link(
            name=name,
            index=index,
            kind=_kind(msg),
            mac=msg.get("address"),
            mtu=msg.get("mtu"),
            up=bool(msg["flags"] & _IFF_UP),
            master=msg.get("master"),
        )

    def link_names(self, prefix: str = "") -> list[str]:
        """Names of the links that start with ``prefix``, sorted."""
        names = (link.get("ifname") for link in self._ipr.get_links())
        return sorted(n for n in names if n.startswith(prefix))

    def ensure_bridge(self, name: str, *, mtu: int | None = None) -> int:
        """A Linux bridge, up (STP off, so ports forward at once)."""
        return self._ensure_link(name, "bridge", {}, {}, mtu)

    def ensure_vlan(self, name: str, parent: str, vlan_id: int, *, mtu: int | None = None) -> int:
        """An 802.1Q subinterface of ``parent`` (a provider VLAN segment), up."""
        parent_index = self._require(parent)
        return self._ensure_link(
            name,
            "vlan",
            {"link": parent_index, "vlan_id": vlan_id},
            {"link": parent_index, ("linkinfo", "data", "vlan_id"): vlan_id},
            mtu,
        )

    def ensure_vxlan(
        self,
        name: str,
        vni: int,
        local_ip: str,
        *,
        dstport: int = VXLAN_PORT,
        underlay: str | None = None,
        mtu: int | None = None,
    ) -> int:
        """A VXLAN device without multicast or learning, up.

        Remote hosts are reached only through the FDB entries given with ``ensure_fdb``
        (l2 population), never by flooding to a group.
        """
        spec: dict[str, Any] = {
            "vxlan_id": vni,
            "vxlan_local": local_ip,
            "vxlan_port": dstport,
            "vxlan_learning": 0,
        }
        if underlay is not None:
            spec["vxlan_link"] = self._require(underlay)
        wanted: _Wanted = {("linkinfo", "data", key): value for key, value in spec.items()}
        return self._ensure_link(name, "vxlan", spec, wanted, mtu)

    def ensure_veth(
        self,
        name: str,
        peer: str,
        *,
        peer_namespace: str | None = None,
        mtu: int | None = None,
    ) -> int:
        """A veth pair; ``name`` stays here and is up, ``peer`` goes to ``peer_namespace``.

        The peer is left down: bring it up from a ``Netlink`` in its namespace once it is
        configured.
        """
        peer_spec: dict[str, Any] = {"ifname": peer}
        if peer_namespace is not None:
            peer_spec["net_ns_fd"] = peer_namespace
        if mtu is not None:
            peer_spec["mtu"] = mtu
        return self._ensure_link(name, "veth", {"peer": peer_spec}, {}, mtu)

    def ensure_tap(self, name: str, *, mtu: int | None = None) -> int:
        """A persistent tap device (for a hypervisor that is given an existing tap), up."""
        return self._ensure_link(name, "tuntap", {"mode": "tap"}, {}, mtu)

    def delete_link(self, name: str) -> None:
        index = self.index(name)
        if index is not None:  # it may vanish meanwhile (with its namespace, or its peer)
            self._call(
                f"delete link {name}", self._ipr.link, "del", index=index, ignore=(errno.ENODEV,)
            )

    def set_link(
        self, name: str, *, mac: str | None = None, mtu: int | None = None, up: bool | None = None
    ) -> None:
        """Change the MAC, MTU or state of a link; what is not given is left as it is."""
        changes: dict[str, Any] = {}
        if mac is not None:
            changes["address"] = mac
        if mtu is not None:
            changes["mtu"] = mtu
        if up is not None:
            changes["state"] = "up" if up else "down"
        if changes:
            self._call(
                f"set link {name}", self._ipr.link, "set", index=self._require(name), **changes
            )

    def attach(self, name: str, bridge: str) -> None:
        """Make ``name`` a port of ``bridge`` and bring it up."""
        master = self._require(bridge)
        self._call(
            f"attach {name} to {bridge}",
            self._ipr.link,
            "set",
            index=self._require(name),
            master=master,
            state="up",
        )

    def in_bridge(self, name: str, bridge: str) -> bool:
        """Whether ``name`` is a port of ``bridge`` (in this object's namespace)."""
        link = self.link(name)
        return link is not None and link.master is not None and link.master == self.index(bridge)

    def detach(self, name: str) -> None:
        """Take ``name`` out of its bridge, if it is in one."""
        self._call(f"detach {name}", self._ipr.link, "set", index=self._require(name), master=0)

    def move_to_namespace(self, name: str, namespace: str) -> None:
        """Move a link into another namespace; succeeds when it is already there."""
        index = self.index(name)
        if index is None:
            with Netlink(namespace) as there:
                if there.index(name) is not None:
                    return
            raise HostError(f"no link named {name} here or in namespace {namespace}")
        self._call(
            f"move {name} to {namespace}", self._ipr.link, "set", index=index, net_ns_fd=namespace
        )

    def bridges(self, prefix: str = BRIDGE_PREFIX) -> dict[str, list[str]]:
        """The host's bridges whose names start with ``prefix``, each with the names of its
        ports. Read from sysfs, which shows the host's namespace only: a netlink dump
        decodes every link of the host (90 ms for 300 links), and every pass of every
        agent lists the bridges."""
        if self.namespace is not None:
            raise HostError(f"bridges are listed in the host's namespace, not {self.namespace}")
        found = {}
        for name in sorted(os.listdir(SYS_NET)):
            if name.startswith(prefix):
                with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                    found[name] = sorted(os.listdir(SYS_NET / name / "brif"))  # bridges only
        return found

    # -- VXLAN forwarding entries (l2 population) -----------------------------------

    def ensure_fdb(self, vxlan: str, mac: str, remote_ip: str) -> None:
        """Send frames for ``mac`` to the VTEP ``remote_ip``.

        With ``FLOOD_MAC`` the entry is one more destination for broadcast and unknown
        unicast (a device has one per remote host); any other MAC has exactly one
        destination, which this replaces.
        """
        command = "append" if mac == FLOOD_MAC else "replace"
        self._call(
            f"add fdb {mac} dst {remote_ip} on {vxlan}",
            self._ipr.fdb,
            command,
            ifindex=self._require(vxlan),
            lladdr=mac,
            dst=remote_ip,
            state=_NUD_NOARP_PERMANENT,
            flags=_NTF_SELF,
            ignore=(errno.EEXIST,),
        )

    def delete_fdb(self, vxlan: str, mac: str, remote_ip: str) -> None:
        self._call(
            f"delete fdb {mac} dst {remote_ip} on {vxlan}",
            self._ipr.fdb,
            "del",
            ifindex=self._require(vxlan),
            lladdr=mac,
            dst=remote_ip,
            ignore=(errno.ENOENT,),
        )

    def fdb_entries(self, vxlan: str) -> list[tuple[str, str]]:
        """The (MAC, remote IP) entries of a VXLAN device, sorted."""
        index = self._require(vxlan)
        entries = {
            (entry.get("lladdr"), entry.get("NDA_DST"))
            for entry in self._ipr.fdb("dump", ifindex=index)
            if entry.get("ifindex") == index and entry.get("NDA_DST")
        }
        return sorted(entries)

    # -- addresses and routes ----------------------------------------------------------

    def addresses(self, name: str) -> list[str]:
        """The addresses of a link as ``address/prefixlen``, IPv6 link-local left out."""
        found = (
            f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}"
            for a in self._ipr.get_addr(index=self._require(name))
            if a["scope"] != _SCOPE_LINK
        )
        return sorted(_normal(cidr) for cidr in found)

    def ensure_address(self, name: str, cidr: str) -> None:
        """Give a link an address (``10.0.0.1/24``).

        IPv6 addresses skip duplicate address detection: IPAM already made them unique,
        and DAD would only hold the address back for a second or more.
        """
        address = ipaddress.ip_interface(cidr)
        extra = {"flags": IFA_F_NODAD} if address.version == 6 else {}
        self._call(
            f"add address {cidr} to {name}",
            self._ipr.addr,
            "add",
            index=self._require(name),
            address=str(address.ip),
            prefixlen=address.network.prefixlen,
            ignore=(errno.EEXIST,),
            **extra,
        )

    def delete_address(self, name: str, cidr: str) -> None:
        address = ipaddress.ip_interface(cidr)
        self._call(
            f"delete address {cidr} from {name}",
            self._ipr.addr,
            "del",
            index=self._require(name),
            address=str(address.ip),
            prefixlen=address.network.prefixlen,
            ignore=(errno.EADDRNOTAVAIL, errno.ENOENT),
        )

    def set_addresses(self, name: str, cidrs: Iterable[str]) -> None:
        """Make exactly these the addresses of a link (IPv6 link-local left alone)."""
        wanted = {_normal(cidr) for cidr in cidrs}
        present = set(self.addresses(name))
        for cidr in sorted(present - wanted):
            self.delete_address(name, cidr)
        for cidr in sorted(wanted - present):
            self.ensure_address(name, cidr)

    def ensure_route(
        self, destination: str, *, gateway: str | None = None, device: str | None = None
    ) -> None:
        """Route ``destination`` (a CIDR; ``0.0.0.0/0`` for the default) via a gateway,
        a device, or both; an existing route to the same destination is replaced."""
        if gateway is None and device is None:
            raise HostError(f"route to {destination} needs a gateway or a device")
        spec: dict[str, Any] = {"dst": str(ipaddress.ip_network(destination))}
        if gateway is not None:
            spec["gateway"] = gateway
        if device is not None:
            spec["oif"] = self._require(device)
        self._call(f"add route to {destination}", self._ipr.route, "replace", **spec)

    def routes(self) -> dict[str, str | None]:
        """The main table's routes via a gateway or a device: destination CIDR -> gateway."""
        found = {}
        for route in self._ipr.get_routes(table=_MAIN_TABLE):
            if route["type"] != _RTN_UNICAST:
                continue
            family = 4 if route["family"] == socket.AF_INET else 6
            dst = route.get("RTA_DST") or ("0.0.0.0" if family == 4 else "::")
            found[f"{dst}/{route['dst_len']}"] = route.get("RTA_GATEWAY")
        return found

    def delete_route(self, destination: str) -> None:
        self._call(
            f"delete route to {destination}",
            self._ipr.route,
            "del",
            dst=str(ipaddress.ip_network(destination)),
            ignore=(errno.ESRCH,),
        )

    # -- helpers --------------------------------------------------------------------

    def _require(self, name: str) -> int:
        index = self.index(name)
        if index is None:
            where = f" in namespace {self.namespace}" if self.namespace else ""
            raise HostError(f"no link named {name}{where}")
        return index

    def _ensure_link(
        self,
        name: str,
        kind: str,
        spec: dict[str, Any],
        wanted: _Wanted,
        mtu: int | None,
    ) -> int:
        """Create the link unless one of that kind and those attributes exists; bring it up.

        ``wanted`` maps attributes (or pyroute2 paths to nested ones) of the existing link to
        the values it must have; a link that differs is deleted and made again. A link that
        is already as asked is only read, never written.
        """
        index = self.index(name)
        if index is not None:
            (link,) = self._ipr.link("get", index=index)
            reported = _REPORTED_KIND.get(kind, kind)
            if _kind(link) != reported or any(link.get(p) != v for p, v in wanted.items()):
                self.delete_link(name)
                index = None
            elif link["flags"] & _IFF_UP and mtu in (None, link.get("mtu")):
                return index
        if index is None:
            extra = {"mtu": mtu} if mtu is not None else {}
            self._call(
                f"create {kind} {name}",
                self._ipr.link,
                "add",
                ifname=name,
                kind=kind,
                **spec,
                **extra,
            )
            index = self._require(name)
        self.set_link(name, mtu=mtu, up=True)
        return index

    def _call(
        self, what: str, fn: Callable[..., Any], *args: Any, ignore: tuple[int, ...] = (), **kw: Any
    ) -> Any:
        try:
            return fn(*args, **kw)
        except NetlinkError as e:
            if e.code in ignore:
                return None
            where = f" in namespace {self.namespace}" if self.namespace else ""
            raise HostError(f"cannot {what}{where}: {e.args[1] if len(e.args) > 1 else e}") from e


def _kind(link: Any) -> str | None:
    return link.get(("linkinfo", "kind"))


def _normal(cidr: str) -> str:
    return str(ipaddress.ip_interface(cidr))
