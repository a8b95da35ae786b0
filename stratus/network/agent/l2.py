"""The L2 agent: one Linux bridge per network with ports on this host, its uplink, the
security groups of those ports, and the ports' status.

A pass reads which bridges this host's agents made, asks the server for the host's
ports (``get_l2_state``), and then:

- gives every network its bridge (``brq`` + 11 characters of its id) and uplink: a
  VXLAN device (``vx-`` + id) with one flood entry per peer host the server names (l2
  population: no multicast, no learning), the mapped interface for a flat network (a
  veth patch when the interface is itself a bridge, such as the public bridge), or a
  VLAN subinterface of it;
- attaches each port's device (``tap`` + port id, see ``devices``) found on the host to
  its bridge (or detaches it while the port's admin state is down), and reports those
  ports ACTIVE and the others DOWN;
- installs the host's security groups in one firewall batch (holding only what changed
  since the last batch, except on periodic full passes, which read the host's firewall
  back and so also repair what was changed behind the agent's back);
- removes the bridges and uplinks it made for networks that have nothing here any more.

Port plugging that waits for a port whose security groups the last pass already put in
force (the port was bound here before its device was made) is served without a pass:
the device is checked in its bridge and the port reported ACTIVE (``wire_quickly``).

A network whose uplink cannot be made (a VLAN on a kernel without 802.1Q, a missing
interface) is logged with the reason and its ports stay DOWN; the others go on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from stratus.host import firewall
from stratus.host.errors import HostError
from stratus.host.names import BRIDGE_PREFIX, bridge_name
from stratus.host.netlink import FLOOD_MAC, Netlink
from stratus.network import agents, public, topics
from stratus.network.agent import devices, loop
from stratus.network.agent.owned import L2, Owned
from stratus.runtime.bus import Bus
from stratus.runtime.config import Config
from stratus.runtime.parts import WorkerPart
from stratus.runtime.process import Runtime

LOG = logging.getLogger(__name__)


class L2Agent(loop.Agent):
    agent_type = agents.L2_AGENT
    binary = "stratus-l2-agent"
    topic = topics.L2_AGENT

    def __init__(self, conf: Config, bus: Bus) -> None:
        super().__init__(conf, bus)
        self.owned = Owned(self.state_path, L2)
        self.mappings = _mappings(conf)
        self.vxlan = conf.vxlan.enable_vxlan
        self.local_ip: str = conf.vxlan.local_ip
        self.udp_port: int = conf.vxlan.udp_port
        self._wired: dict[str, tuple[dict[str, Any], str | None]] = {}  # id -> (state, uplink)
        self._ruleset: firewall.Ruleset | None = None  # in force
        self._applied: firewall.Applied | None = None  # what installed it, for the next
        self._statuses: dict[str, bool] = {}  # port id -> wired, as last reported
        self._ports: dict[str, dict[str, Any]] = {}  # the host's ports, as the last pass saw

    def configurations(self) -> dict[str, Any]:
        return {
            "interface_mappings": self.mappings,
            "tunnel_types": ["vxlan"] if self.vxlan else [],
            "tunneling_ip": self.local_ip if self.vxlan else None,
            "l2_population": True,
        }

    def reconcile(self, full: bool) -> None:
        made = self.owned.names()  # before the state: see _remove_orphans
        state = self.server("get_l2_state")
        networks: dict[str, dict[str, Any]] = state["networks"]
        with Netlink() as host:
            if full:
                self._ensure_public_bridge(host)
            bridges = host.bridges()
            ready = set()
            for network_id, network in networks.items():
                if self._ensure_network(host, network, bridges, full):
                    ready.add(network_id)
            self._wired = {n: self._wired[n] for n in ready}
            wired = self._attach_devices(host, state["ports"], ready, bridges)
            self._apply_firewall(state, full)
            self._report_ports(state["ports"], wired, full)
            self._ports = {p["id"]: p for p in state["ports"]}
            self._remove_orphans(host, made, networks.values())

    def wire_quickly(self, port_ids: list[str]) -> bool:
        """Ports the last pass saw bound here, up, on a wired network and in the firewall
        it installed, whose devices are in their bridges now (port plugging put them
        there since): reported ACTIVE without a pass."""
        in_force = {p.device for p in self._ruleset.ports} if self._ruleset else set()
        ports = [self._ports[i] for i in port_ids if i in self._ports]
        if len(ports) < len(port_ids) or not all(
            p["admin_state_up"]
            and p["network_id"] in self._wired
            and devices.port_device(p["id"]) in in_force
            for p in ports
        ):
            return False
        with Netlink() as host:
            if not all(
                host.in_bridge(devices.port_device(p["id"]), bridge_name(p["network_id"]))
                for p in ports
            ):
                return False
        up = sorted(i for i in port_ids if not self._statuses.get(i))
        if up:
            self.server("update_ports_status", up=up, down=[])
            self._statuses.update(dict.fromkeys(up, True))
        return True

    def wired(self, port_ids: list[str]) -> dict[str, bool]:
        return {i: self._statuses.get(i, False) for i in port_ids}

    # -- networks ----------------------------------------------------------------------

    def _ensure_public_bridge(self, host: Netlink) -> None:
        """The host bridge of the public network, with its gateway address."""
        name = self.conf.network.public_bridge
        address = public.gateway(self.conf)
        if name and address:
            host.ensure_bridge(name)
            host.ensure_address(name, address)

    def _ensure_network(
        self, host: Netlink, network: dict[str, Any], bridges: dict[str, list[str]], full: bool
    ) -> bool:
        """The network's bridge and uplink; False (logged) when they cannot be made.

        A network wired as it is now asked for, whose bridge still holds its uplink, is
        left alone except on full passes: every netlink request costs milliseconds.
        """
        bridge = bridge_name(network["id"])
        if not full and network["id"] in self._wired:
            wired, uplink = self._wired[network["id"]]
            present = bridges.get(bridge)
            if wired == network and present is not None and (uplink is None or uplink in present):
                return True
        try:
            devices.ensure_bridge(host, self.owned, network["id"])
            kind = network["network_type"]
            if kind == "vxlan":
                uplink = self._ensure_vxlan(host, network, bridge)
            elif kind in ("flat", "vlan"):
                uplink = self._ensure_physical(host, network, bridge)
            elif kind == "local":
                uplink = None
            else:
                raise HostError(f"network type {kind} is not supported by this agent")
        except HostError as e:
            LOG.error("network %s cannot be wired on this host: %s", network["id"], e)
            self._wired.pop(network["id"], None)
            return False
        self._wired[network["id"]] = (network, uplink)
        return True

    def _ensure_vxlan(self, host: Netlink, network: dict[str, Any], bridge: str) -> str:
        if not self.vxlan:
            raise HostError("VXLAN is disabled on this host ([vxlan] enable_vxlan)")
        device = devices.vxlan_device(network["id"])
        if host.index(device) is None:
            self.owned.claim(device)
        host.ensure_vxlan(
            device,
            network["segmentation_id"],
            self.local_ip,
            dstport=self.udp_port,
            mtu=network["mtu"] or None,
        )
        host.attach(device, bridge)
        wanted = {(FLOOD_MAC, peer) for peer in network.get("peers", [])}
        present = {e for e in host.fdb_entries(device) if e[0] == FLOOD_MAC}
        for mac, peer in sorted(present - wanted):
            host.delete_fdb(device, mac, peer)
        for mac, peer in sorted(wanted - present):
            host.ensure_fdb(device, mac, peer)
        return device

    def _ensure_physical(self, host: Netlink, network: dict[str, Any], bridge: str) -> str:
        physnet = network["physical_network"]
        interface = self.mappings.get(physnet)
        if interface is None:
            raise HostError(f"physical network {physnet} is not mapped to an interface here")
        link = host.link(interface)
        if link is None:
            raise HostError(f"interface {interface} of physical network {physnet} is missing")
        if network["network_type"] == "vlan":
            interface = self._ensure_vlan(host, interface, network["segmentation_id"])
        elif link.kind == "bridge":
            inner, outer = devices.patch_devices(network["id"])
            if host.index(inner) is None:
                self.owned.claim(inner)
                host.ensure_veth(inner, outer)
            host.attach(outer, link.name)
            interface = inner
        host.attach(interface, bridge)
        return interface

    def _ensure_vlan(self, host: Netlink, interface: str, vlan_id: int) -> str:
        device = devices.vlan_device(interface, vlan_id)
        if host.index(device) is None:
            self.owned.claim(device)
        try:
            host.ensure_vlan(device, interface, vlan_id)
        except HostError as e:
            self.owned.release(device)
            raise HostError(
                f"cannot make VLAN {vlan_id} on {interface} (802.1Q needs the kernel's 8021q "
                f"module): {e}"
            ) from e
        return device

    # -- ports -------------------------------------------------------------------------

    def _attach_devices(
        self,
        host: Netlink,
        ports: list[dict[str, Any]],
        ready: set[str],
        bridges: dict[str, list[str]],
    ) -> set[str]:
        """Put each port's device that exists into its bridge, or take it out when the
        port's admin state is down; the ids of those wired."""
        wired = set()
        for port in ports:
            if port["network_id"] not in ready:
                continue
            device = devices.port_device(port["id"])
            bridge = bridge_name(port["network_id"])
            if not port["admin_state_up"]:
                if device in bridges.get(bridge, ()):
                    host.detach(device)
            elif device in bridges.get(bridge, ()):
                wired.add(port["id"])
            elif host.index(device) is not None:
                try:
                    host.attach(device, bridge)
                except HostError as e:
                    LOG.warning("cannot attach port %s: %s", port["id"], e)
                    continue
                wired.add(port["id"])
        return wired

    def _apply_firewall(self, state: dict[str, Any], full: bool) -> None:
        ruleset = ruleset_of(state)
        if full or ruleset != self._ruleset:
            # Unknown until the batch is in. A full pass reads the host's firewall back
            # and repairs it; the others only write what changed since the last batch.
            self._ruleset = None
            previous, self._applied = (None if full else self._applied), None
            if ruleset.ports:
                self._applied = firewall.apply(ruleset, prefix=self.prefix, previous=previous)
            else:  # a host without ports keeps no chains, jumps or tables of ours
                firewall.remove_all(prefix=self.prefix)
            self._ruleset = ruleset

    def _report_ports(self, ports: list[dict[str, Any]], wired: set[str], full: bool) -> None:
        statuses = {p["id"]: p["id"] in wired for p in ports}
        changed = {
            port_id: up
            for port_id, up in statuses.items()
            if full or self._statuses.get(port_id) != up
        }
        if changed:
            self.server(
                "update_ports_status",
                up=sorted(p for p, up in changed.items() if up),
                down=sorted(p for p, up in changed.items() if not up),
            )
        self._statuses = statuses

    # -- orphans -----------------------------------------------------------------------

    def _remove_orphans(
        self, host: Netlink, made: set[str], networks: Iterable[dict[str, Any]]
    ) -> None:
        """Remove what this host made for networks it no longer has. Only names recorded
        before the state was read are candidates: a bridge recorded later (by port
        plugging, after binding a port) belongs to a network the state may not show yet."""
        wanted = set()
        for network in networks:
            wanted.add(bridge_name(network["id"]))
            if network["network_type"] == "vxlan":
                wanted.add(devices.vxlan_device(network["id"]))
            elif network["network_type"] == "flat":
                wanted.add(devices.patch_devices(network["id"])[0])
            elif network["network_type"] == "vlan":
                interface = self.mappings.get(network["physical_network"], "")
                wanted.add(devices.vlan_device(interface, network["segmentation_id"]))
        # Uplinks first: a bridge goes last, so a crash leaves it recorded.
        for name in sorted(made - wanted, key=lambda n: n.startswith(BRIDGE_PREFIX)):
            host.delete_link(name)
            self.owned.release(name)


def ruleset_of(state: dict[str, Any]) -> firewall.Ruleset:
    """The firewall of this host's ports, from the server's L2 state. Ports of network
    devices (DHCP servers, routers) are trusted: in the ruleset, so that their bridge
    passes traffic, but unfiltered."""
    ports = tuple(
        firewall.Port(
            device=devices.port_device(p["id"]),
            network_id=p["network_id"],
            mac_address=p["mac_address"],
            fixed_ips=tuple(ip["ip_address"] for ip in p["fixed_ips"]),
            allowed_address_pairs=tuple(
                firewall.AddressPair(a["ip_address"], a.get("mac_address"))
                for a in p["allowed_address_pairs"]
            ),
            security_groups=tuple(p["security_groups"]),
            port_security_enabled=p["port_security_enabled"]
            and not p["device_owner"].startswith("network:"),
        )
        for p in sorted(state["ports"], key=lambda p: p["id"])
    )
    rules = {
        group_id: tuple(
            firewall.Rule(
                direction=r["direction"],
                ethertype=r["ethertype"],
                protocol=r["protocol"],
                port_range_min=r["port_range_min"],
                port_range_max=r["port_range_max"],
                remote_ip_prefix=r["remote_ip_prefix"],
                remote_group_id=r["remote_group_id"],
            )
            for r in group["rules"]
        )
        for group_id, group in state["security_groups"].items()
    }
    members = {
        group_id: tuple(by_version.get("IPv4", []) + by_version.get("IPv6", []))
        for group_id, by_version in state["members"].items()
    }
    return firewall.Ruleset(ports=ports, rules=rules, members=members)


def _mappings(conf: Config) -> dict[str, str]:
    mappings = {}
    for entry in conf.linux_bridge.physical_interface_mappings:
        physnet, sep, interface = entry.partition(":")
        if not sep or not physnet or not interface:
            raise ValueError(f"physical_interface_mappings: {entry!r} is not physnet:interface")
        mappings[physnet] = interface
    if conf.network.public_bridge and conf.network.public_physnet:
        mappings.setdefault(conf.network.public_physnet, conf.network.public_bridge)
    return mappings


def build_part(runtime: Runtime) -> WorkerPart:
    return loop.part("network-l2-agent", L2Agent(runtime.conf, runtime.bus))
