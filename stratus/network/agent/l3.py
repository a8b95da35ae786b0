"""The L3 agent: each router this host hosts is a ``qrouter-<router>`` namespace that
forwards between its interfaces (``qr-`` + port id, one per internal subnet's port) and
its gateway (``qg-`` + port id, on the external network), translates addresses (SNAT of
the internal subnets out of the gateway, floating IPs as DNAT/SNAT pairs), and holds
the router's static routes.

A pass asks the server for the host's routers (``get_l3_state``, which binds their
ports here), makes each namespace match, reports floating IP statuses that changed, and
removes the namespaces and veths of routers it no longer hosts (a router whose admin
state is down is not wired).
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from stratus.host import namespaces, nat
from stratus.host.errors import HostError
from stratus.host.names import router_namespace
from stratus.host.netlink import Netlink
from stratus.network import agents, topics
from stratus.network.agent import devices, loop
from stratus.network.agent.owned import L2, L3, Owned
from stratus.runtime.bus import Bus
from stratus.runtime.config import Config
from stratus.runtime.parts import WorkerPart
from stratus.runtime.process import Runtime

LOG = logging.getLogger(__name__)
NAMESPACE_PREFIX = router_namespace("")
_DEFAULT = {4: "0.0.0.0/0", 6: "::/0"}


class L3Agent(loop.Agent):
    agent_type = agents.L3_AGENT
    binary = "stratus-l3-agent"
    topic = topics.L3_AGENT

    def __init__(self, conf: Config, bus: Bus) -> None:
        super().__init__(conf, bus)
        self.owned = Owned(self.state_path, L3)
        self.bridge_records = Owned(self.state_path, L2)
        self._attached = False  # a veth was newly attached to a bridge in this pass
        self._routers: dict[str, dict[str, Any]] = {}  # router id -> state as last wired

    def reconcile(self, full: bool) -> None:
        made = self.owned.names()
        routers = [r for r in self.server("get_l3_state")["routers"] if r["admin_state_up"]]
        statuses: dict[str, str] = {}
        failed = []
        self._attached = False
        with Netlink() as host:
            bridges = host.bridges()
            for router in routers:
                ok = not full and self._unchanged(router, bridges)
                if not ok:
                    self._routers.pop(router["id"], None)
                    try:
                        self._ensure_router(host, router, bridges)
                        self._routers[router["id"]] = router
                        ok = True
                    except HostError as e:
                        LOG.error("cannot wire router %s: %s", router["id"], e)
                        failed.append(router["id"])
                for fip in router["floating_ips"]:
                    status = "ACTIVE" if ok else "ERROR"
                    if full or fip["status"] != status:
                        statuses[fip["id"]] = status
            self._remove_orphans(host, made, routers)
        self._routers = {
            r["id"]: self._routers[r["id"]] for r in routers if r["id"] in self._routers
        }
        if self._attached:
            self.hint_l2()
        if statuses:
            self.server("update_floatingip_statuses", statuses=statuses)
        if failed:
            raise HostError(f"routers {', '.join(failed)} are not wired")

    def _unchanged(self, router: dict[str, Any], bridges: dict[str, list[str]]) -> bool:
        """Wired as asked now, with its namespace and every veth in place: then a hinted
        pass leaves it alone (full passes check everything again)."""
        return (
            self._routers.get(router["id"]) == router
            and namespaces.exists(router_namespace(router["id"]))
            and all(
                devices.port_device(p["id"]) in bridges.get(p["network"]["bridge"], ())
                for p in _ports(router)
            )
        )

    def _ensure_router(
        self, host: Netlink, router: dict[str, Any], bridges: dict[str, list[str]]
    ) -> None:
        namespace = router_namespace(router["id"])
        if not namespaces.exists(namespace):
            self.owned.claim(namespace)
            namespaces.create(namespace)
        nat.enable_forwarding(namespace)
        gateway = router["gateway"]
        fips = [f for f in router["floating_ips"] if f["fixed_ip_address"]]
        wanted = set()
        for port in router["interfaces"]:
            wanted.add(
                self._wire(host, namespace, port, devices.ROUTER_INTERFACE_PREFIX, [], bridges)
            )
        if gateway is not None:
            extra = [f"{f['floating_ip_address']}/32" for f in fips]
            qg = self._wire(host, namespace, gateway, devices.ROUTER_GATEWAY_PREFIX, extra, bridges)
            wanted.add(qg)
        with Netlink(namespace) as inside:
            for prefix in (devices.ROUTER_INTERFACE_PREFIX, devices.ROUTER_GATEWAY_PREFIX):
                for name in inside.link_names(prefix):
                    if name not in wanted:
                        inside.delete_link(name)  # its peer in the bridge goes with it
            self._set_routes(inside, router)
        if gateway is None:
            nat.remove(namespace, prefix=self.prefix)
            return
        internal = [
            s["cidr"]
            for port in router["interfaces"]
            for s in port["subnets"]
            if ipaddress.ip_network(s["cidr"]).version == 4
        ]
        gateway_ip = next(
            (ip["ip_address"] for ip in gateway["fixed_ips"] if _version(ip["ip_address"]) == 4),
            None,
        )
        rules = nat.RouterNat(
            gateway_device=qg,
            gateway_ip=gateway_ip if router["enable_snat"] else None,
            internal_cidrs=tuple(internal),
            floating_ips=tuple(
                nat.FloatingIp(f["floating_ip_address"], f["fixed_ip_address"]) for f in fips
            ),
        )
        nat.apply(namespace, rules, prefix=self.prefix)

    def _wire(
        self,
        host: Netlink,
        namespace: str,
        port: dict[str, Any],
        prefix: str,
        extra_addresses: list[str],
        bridges: dict[str, list[str]],
    ) -> str:
        """The router's veth for ``port``; its name inside the namespace."""
        device = devices.port_device(port["id"])
        inner = devices.inner_device(prefix, port["id"])
        prefixes = {s["id"]: ipaddress.ip_network(s["cidr"]).prefixlen for s in port["subnets"]}
        addresses = [f"{ip['ip_address']}/{prefixes[ip['subnet_id']]}" for ip in port["fixed_ips"]]
        if host.index(device) is None:
            self.owned.claim(device)
        self._attached |= device not in bridges.get(port["network"]["bridge"], ())
        devices.wire_veth(
            host,
            devices.ensure_bridge(host, self.bridge_records, port["network_id"]),
            device,
            inner,
            namespace=namespace,
            mac=port["mac_address"],
            mtu=port["network"]["mtu"] or None,
            addresses=addresses + extra_addresses,
        )
        return inner

    def _set_routes(self, inside: Netlink, router: dict[str, Any]) -> None:
        """The default route via the external subnets' gateways, and the static routes;
        other routes via a gateway are removed (connected routes are the kernel's)."""
        wanted: dict[str, str] = {}
        if router["gateway"] is not None:
            for subnet in router["gateway"]["subnets"]:
                if subnet["gateway_ip"]:
                    version = ipaddress.ip_network(subnet["cidr"]).version
                    wanted.setdefault(_DEFAULT[version], subnet["gateway_ip"])
        for route in router["routes"]:
            wanted[str(ipaddress.ip_network(route["destination"]))] = route["nexthop"]
        present = {dst: via for dst, via in inside.routes().items() if via is not None}
        for destination in present.keys() - wanted.keys():
            inside.delete_route(destination)
        for destination, nexthop in wanted.items():
            if present.get(destination) != nexthop:
                inside.ensure_route(destination, gateway=nexthop)

    def _remove_orphans(self, host: Netlink, made: set[str], routers: list[dict]) -> None:
        wanted = {router_namespace(r["id"]) for r in routers}
        for router in routers:
            wanted |= {devices.port_device(p["id"]) for p in _ports(router)}
        for name in sorted(made - wanted):
            if name.startswith(NAMESPACE_PREFIX):
                namespaces.delete(name)  # its veths and NAT rules go with it
            else:
                host.delete_link(name)
            self.owned.release(name)


def _ports(router: dict[str, Any]) -> list[dict[str, Any]]:
    gateway = router["gateway"]
    return [*router["interfaces"], *([gateway] if gateway is not None else [])]


def _version(address: str) -> int:
    return ipaddress.ip_address(address).version


def build_part(runtime: Runtime) -> WorkerPart:
    return loop.part("network-l3-agent", L3Agent(runtime.conf, runtime.bus))
