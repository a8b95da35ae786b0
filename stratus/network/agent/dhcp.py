"""The DHCP agent: one dnsmasq per network this host serves, in the network's
``qdhcp-<network>`` namespace, on a veth (``ns-`` + DHCP port id) into the network's
bridge, answering each port of the network with its fixed addresses by MAC.

A pass asks the server which networks this host serves (``get_dhcp_state``, which also
binds their DHCP ports here), wires and configures each, and removes the namespaces,
veths and dnsmasq processes of networks it no longer serves. dnsmasq is told of port
changes with SIGHUP, never restarted for them (see ``stratus.host.dnsmasq``).
"""

from __future__ import annotations

import ipaddress
import logging
import stat
from pathlib import Path
from typing import Any

from stratus.host import dnsmasq, namespaces
from stratus.host.dnsmasq import DhcpConfig, Dnsmasq, HostRoute, Subnet
from stratus.host.errors import HostError
from stratus.host.names import dhcp_namespace
from stratus.host.netlink import Netlink
from stratus.network import agents, topics
from stratus.network.agent import devices, loop
from stratus.network.agent.owned import DHCP, L2, Owned
from stratus.runtime.bus import Bus
from stratus.runtime.config import Config
from stratus.runtime.parts import WorkerPart
from stratus.runtime.process import Runtime

LOG = logging.getLogger(__name__)
NAMESPACE_PREFIX = dhcp_namespace("")


class DhcpAgent(loop.Agent):
    agent_type = agents.DHCP_AGENT
    binary = "stratus-dhcp-agent"
    topic = topics.DHCP_AGENT

    def __init__(self, conf: Config, bus: Bus) -> None:
        super().__init__(conf, bus)
        self.owned = Owned(self.state_path, DHCP)
        self.bridge_records = Owned(self.state_path, L2)
        self.dnsmasq_dir = Path(self.state_path) / "dhcp"
        self._served: dict[str, dict[str, Any]] = {}  # network id -> state as last served

    def reconcile(self, full: bool) -> None:
        made = self.owned.names()
        _check_readable_by_dnsmasq(self.dnsmasq_dir)
        served = self.server("get_dhcp_state")["networks"]
        failed = []
        attached = False
        with Netlink() as host:
            bridges = host.bridges()
            for network in served:
                wired = not full and self._wired(network, bridges)
                if wired and self._served[network["id"]] == network:
                    continue
                self._served.pop(network["id"], None)
                try:
                    attached |= self._serve(host, network, bridges, wire=not wired)
                except HostError as e:
                    LOG.error("cannot serve DHCP on network %s: %s", network["id"], e)
                    failed.append(network["id"])
                    continue
                self._served[network["id"]] = network
            self._served = {
                n["id"]: self._served[n["id"]] for n in served if n["id"] in self._served
            }
            self._remove_orphans(host, made, served)
        if attached:
            self.hint_l2()
        if failed:
            raise HostError(f"DHCP is not served on networks {', '.join(failed)}")

    def _wired(self, network: dict[str, Any], bridges: dict[str, list[str]]) -> bool:
        """Served as asked now but for its other ports, its veth still in the bridge and
        its dnsmasq running: then a hinted pass at most tells dnsmasq of the ports (full
        passes check everything again)."""
        served = self._served.get(network["id"])
        return (
            served is not None
            and {**served, "ports": None} == {**network, "ports": None}
            and devices.port_device(network["port"]["id"]) in bridges.get(network["bridge"], ())
            and Dnsmasq(self.dnsmasq_dir, network["id"]).pid is not None
        )

    def _serve(
        self, host: Netlink, network: dict[str, Any], bridges: dict[str, list[str]], wire: bool
    ) -> bool:
        """Serve one network (``wire``: its namespace and veth made or checked first);
        True when its DHCP port was not in the bridge before."""
        port = network["port"]
        namespace = dhcp_namespace(network["id"])
        inner = devices.inner_device(devices.DHCP_PREFIX, port["id"])
        attached = False
        if wire:
            attached = self._wire(host, network, bridges, namespace, inner)
        config = DhcpConfig(
            namespace=namespace,
            interface=inner,
            subnets=tuple(_subnet(s) for s in network["subnets"] if s["enable_dhcp"]),
            mtu=network["mtu"] or None,
        )
        hosts = [
            dnsmasq.Host(
                mac_address=p["mac_address"],
                ip_addresses=tuple(ip["ip_address"] for ip in p["fixed_ips"]),
                hostname=_hostname(p),
            )
            for p in network["ports"]
        ]
        Dnsmasq(self.dnsmasq_dir, network["id"]).ensure(config, hosts)
        return attached

    def _wire(
        self,
        host: Netlink,
        network: dict[str, Any],
        bridges: dict[str, list[str]],
        namespace: str,
        inner: str,
    ) -> bool:
        """The network's namespace and DHCP veth; True when the veth joined the bridge."""
        port = network["port"]
        if not namespaces.exists(namespace):
            self.owned.claim(namespace)
            namespaces.create(namespace)
        device = devices.port_device(port["id"])
        subnets = {s["id"]: s for s in network["subnets"]}
        attached = device not in bridges.get(network["bridge"], ())
        if host.index(device) is None:
            self.owned.claim(device)
        devices.wire_veth(
            host,
            devices.ensure_bridge(host, self.bridge_records, network["id"]),
            device,
            inner,
            namespace=namespace,
            mac=port["mac_address"],
            mtu=network["mtu"] or None,
            addresses=[_interface_address(ip, subnets) for ip in port["fixed_ips"]],
        )
        return attached

    def _remove_orphans(self, host: Netlink, made: set[str], served: list[dict]) -> None:
        """Stop the dnsmasq of each network no longer served, then remove its namespace
        and veth (a running dnsmasq would keep the namespace alive)."""
        networks = {n["id"] for n in served}
        for network_id in dnsmasq.running_networks(self.dnsmasq_dir):
            if network_id not in networks:
                Dnsmasq(self.dnsmasq_dir, network_id).stop()
        wanted = {dhcp_namespace(n) for n in networks}
        wanted |= {devices.port_device(n["port"]["id"]) for n in served}
        for name in sorted(made - wanted):
            if name.startswith(NAMESPACE_PREFIX):
                Dnsmasq(self.dnsmasq_dir, name.removeprefix(NAMESPACE_PREFIX)).stop()
                namespaces.delete(name)
            else:
                host.delete_link(name)
            self.owned.release(name)


def _check_readable_by_dnsmasq(directory: Path) -> None:
    """dnsmasq re-reads its files as ``nobody``: every directory above them must let
    others through, or it would silently keep serving stale hosts."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    for parent in directory.parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            raise HostError(
                f"{parent} must be traversable by others (o+x) for dnsmasq to read "
                f"its files under {directory}"
            )


def _interface_address(fixed_ip: dict[str, str], subnets: dict[str, dict[str, Any]]) -> str:
    prefix = ipaddress.ip_network(subnets[fixed_ip["subnet_id"]]["cidr"]).prefixlen
    return f"{fixed_ip['ip_address']}/{prefix}"


def _subnet(subnet: dict[str, Any]) -> Subnet:
    return Subnet(
        cidr=subnet["cidr"],
        gateway_ip=subnet["gateway_ip"],
        dns_nameservers=tuple(subnet["dns_nameservers"]),
        host_routes=tuple(HostRoute(r["destination"], r["nexthop"]) for r in subnet["host_routes"]),
        ipv6_address_mode=subnet["ipv6_address_mode"],
    )


def _hostname(port: dict[str, Any]) -> str | None:
    """``host-<first address>`` as Neutron names ports without a DNS name."""
    if not port["fixed_ips"]:
        return None
    address = port["fixed_ips"][0]["ip_address"]
    return "host-" + address.replace(".", "-").replace(":", "-")


def build_part(runtime: Runtime) -> WorkerPart:
    return loop.part("network-dhcp-agent", DhcpAgent(runtime.conf, runtime.bus))
