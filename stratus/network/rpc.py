"""The RPC interface between the network server and its agents (L2, DHCP, L3).

Agents never touch the database: they report themselves, ask the server for the desired
state of their host, make the host match it, and report back what they wired. Every
argument and result is JSON; an agent names its host ``agent_host`` (the bus keeps
``host`` for routing). The server serves :class:`ServerEndpoint` on the bus topic
``network.server`` (:mod:`stratus.network.topics`):

``report_state(agent)`` -- cast every few seconds (a call on start): ``agent`` is
    ``{"agent_type", "binary", "host", "topic", "availability_zone", "configurations",
    "start_flag"}``, the agent types being ``Linux bridge agent``, ``DHCP agent`` and
    ``L3 agent``. An L2 agent's configurations hold ``interface_mappings`` (physical
    network to host interface, for flat and VLAN segments), ``tunnel_types``
    (``["vxlan"]``) and ``tunneling_ip`` (its VXLAN endpoint); port binding depends on
    them. Returns ``{"id", "admin_state_up"}``.

``get_l2_state(agent_host)`` -- the ports bound to the host (``ports``), the networks they
    are on with their segment, MTU, bridge and VXLAN peers (``networks``, by id), the
    security groups of those ports with their rules (``security_groups``, by id), and
    the addresses of the members of every group a rule names as its remote group
    (``members``: ``{group id: {"IPv4": [...], "IPv6": [...]}}``).

``update_ports_status(agent_host, up, down)`` -- port ids the L2 agent wired (ACTIVE) or
    unwired (DOWN); ports bound to another host are left alone. Returns the ids whose
    status changed.

``get_dhcp_state(agent_host)`` -- the networks this host's DHCP agent serves (each network
    is served by one usable agent; networks whose agent is gone move to the asker),
    each with its subnets, its DHCP port (bound to the host by this call) and the
    ports to answer for.

``get_l3_state(agent_host)`` -- the routers this host's L3 agent hosts (same scheduling),
    each with its gateway, interfaces (ports bound to the host by this call, with their
    subnets and networks), static routes, SNAT mode and floating IPs.

``update_floatingip_statuses(agent_host, statuses)`` -- ``{floating IP id: ACTIVE | DOWN |
    ERROR}`` for floating IPs of routers the host's L3 agent hosts.

The server hints agents when their state may have changed: a fanout of ``changed`` on
``network.l2_agent`` (``network_ids=`` or ``security_group_ids=``),
``network.dhcp_agent`` (``network_ids=``) and ``network.l3_agent`` (``router_ids=``).
Agents re-read their state then, and also periodically, as a hint may be lost.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.host.names import bridge_name
from stratus.network import agents, models, ports
from stratus.network.backend import Backend

FLOATINGIP_STATUSES = ("ACTIVE", "DOWN", "ERROR")
UNWIRED = (ports.UNBOUND, ports.BINDING_FAILED)


class ServerEndpoint:
    """The server side of the agents' interface (see the module documentation)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def report_state(self, agent: dict[str, Any]) -> dict[str, Any]:
        def work(session: Session) -> dict[str, Any]:
            row = agents.record_heartbeat(session, agent)
            return {"id": row.id, "admin_state_up": row.admin_state_up}

        return self.backend.transaction(work)

    def get_l2_state(self, agent_host: str) -> dict[str, Any]:
        def work(session: Session) -> dict[str, Any]:
            bound = session.scalars(
                sa.select(models.Port).where(
                    models.Port.binding_host_id == agent_host,
                    models.Port.binding_vif_type.not_in(UNWIRED),
                )
            ).all()
            networks = list(_networks(session, {p.network_id for p in bound}).values())
            peers = _peers(session, self.backend, networks, agent_host)
            groups = _security_groups(session, {g for p in bound for g in p.security_group_ids})
            remote = {r["remote_group_id"] for g in groups.values() for r in g["rules"]}
            return {
                "ports": [_port(p) for p in bound],
                "networks": {n.id: {**_network(n), "peers": peers.get(n.id, [])} for n in networks},
                "security_groups": groups,
                "members": _members(session, remote - {None}),
            }

        return self.backend.transaction(work)

    def update_ports_status(self, agent_host: str, up: list[str], down: list[str]) -> list[str]:
        def work(session: Session) -> list[str]:
            changed = []
            for status, ids in (("ACTIVE", up), ("DOWN", down)):
                for port in session.scalars(sa.select(models.Port).where(models.Port.id.in_(ids))):
                    if port.binding_host_id == agent_host and port.status != status:
                        port.status = status
                        changed.append(port.id)
            session.flush()
            return changed

        return self.backend.transaction(work)

    def get_dhcp_state(self, agent_host: str) -> dict[str, Any]:
        def work(session: Session) -> dict[str, Any]:
            agent = _agent(session, agents.DHCP_AGENT, agent_host)
            if agent is None or not agents.usable(agent, self.backend.agent_down_time):
                return {"networks": []}
            # A few queries for all the networks, not several per network.
            dhcp_ports = session.scalars(
                sa.select(models.Port).where(models.Port.device_owner == ports.DHCP)
            ).all()
            ids = {p.network_id for p in dhcp_ports}
            # A network deleted meanwhile is missing: SQLite reads see each commit.
            networks = _networks(session, ids)
            binding = models.NetworkDhcpAgent
            held = agents.bindings(session, binding, ids)
            down_time = self.backend.agent_down_time
            served = []
            for port in dhcp_ports:
                network = networks.get(port.network_id)
                if network is None:
                    continue
                hints = list(network.availability_zone_hints)
                current = held.get(network.id)
                if agents.claim(session, agent, binding, network.id, current, hints, down_time):
                    self._bind(session, port, network, agent_host, device_id=f"dhcp-{agent_host}")
                    served.append((network, port))
            others = _ports_by_network(session, [network.id for network, _ in served])
            return {
                "networks": [
                    _dhcp_network(network, port, others.get(network.id, []))
                    for network, port in served
                ]
            }

        return self.backend.transaction(work)

    def get_l3_state(self, agent_host: str) -> dict[str, Any]:
        def work(session: Session) -> dict[str, Any]:
            agent = _agent(session, agents.L3_AGENT, agent_host)
            if agent is None or not agents.usable(agent, self.backend.agent_down_time):
                return {"routers": []}
            routers = session.scalars(sa.select(models.Router).order_by(models.Router.id)).all()
            # A few queries for all the routers, not several per router.
            ids = [router.id for router in routers]
            binding = models.RouterL3Agent
            held = agents.bindings(session, binding, ids)
            ports = [p for r in routers for p in [r.gw_port, *(i.port for i in r.interfaces)]]
            networks = _networks(session, {p.network_id for p in ports if p is not None})
            floating: dict[str, list[models.FloatingIP]] = {}
            for row in session.scalars(
                sa.select(models.FloatingIP).where(models.FloatingIP.router_id.in_(ids))
            ):
                floating.setdefault(str(row.router_id), []).append(row)
            down_time = self.backend.agent_down_time
            hosted = []
            for router in routers:
                hints = list(router.availability_zone_hints)
                current = held.get(router.id)
                if agents.claim(session, agent, binding, router.id, current, hints, down_time):
                    found = floating.get(router.id, [])
                    hosted.append(self._router(session, router, agent_host, networks, found))
            return {"routers": hosted}

        return self.backend.transaction(work)

    def update_floatingip_statuses(self, agent_host: str, statuses: dict[str, str]) -> list[str]:
        def work(session: Session) -> list[str]:
            changed = []
            hosted = (
                sa.select(models.RouterL3Agent.router_id)
                .join(models.Agent, models.Agent.id == models.RouterL3Agent.agent_id)
                .where(models.Agent.host == agent_host)
            )
            rows = session.scalars(
                sa.select(models.FloatingIP).where(
                    models.FloatingIP.id.in_(list(statuses)),
                    models.FloatingIP.router_id.in_(hosted),
                )
            )
            for floating in rows:
                status = statuses[floating.id]
                if status in FLOATINGIP_STATUSES and floating.status != status:
                    floating.status = status
                    changed.append(floating.id)
            session.flush()
            return changed

        return self.backend.transaction(work)

    def _router(
        self,
        session: Session,
        router: models.Router,
        host: str,
        networks: dict[str, models.Network],
        floating: list[models.FloatingIP],
    ) -> dict[str, Any]:
        """``networks``: those of the router's ports, by id."""
        gateway = router.gw_port
        interfaces = [i.port for i in router.interfaces]
        for port in [gateway, *interfaces]:
            if port is not None:
                self._bind(session, port, networks[port.network_id], host, device_id=router.id)
        return {
            "id": router.id,
            "admin_state_up": router.admin_state_up,
            "enable_snat": router.enable_snat,
            "routes": list(router.routes),
            "gateway": (
                _router_port(gateway, networks[gateway.network_id]) if gateway is not None else None
            ),
            "interfaces": [_router_port(p, networks[p.network_id]) for p in interfaces],
            "floating_ips": [
                {
                    "id": f.id,
                    "floating_ip_address": f.floating_ip_address,
                    "fixed_ip_address": f.fixed_ip_address,
                    "port_id": f.fixed_port_id,
                    "status": f.status,
                }
                for f in floating
            ],
        }

    def _bind(
        self,
        session: Session,
        port: models.Port,
        network: models.Network,
        host: str,
        device_id: str,
    ) -> None:
        """Bind a port the agent on ``host`` runs (a DHCP or router port) to that host."""
        if port.binding_host_id == host and port.binding_vif_type not in UNWIRED:
            return
        port.binding_host_id = host
        port.device_id = device_id
        ports.bind(session, self.backend, port, network)
        port.touch()
        session.flush()


def _agent(session: Session, agent_type: str, host: str) -> models.Agent | None:
    return session.scalar(
        sa.select(models.Agent).where(
            models.Agent.agent_type == agent_type, models.Agent.host == host
        )
    )


def _network(network: models.Network) -> dict[str, Any]:
    segment = network.segments[0]
    return {
        "id": network.id,
        "mtu": network.mtu,
        "admin_state_up": network.admin_state_up,
        "bridge": bridge_name(network.id),
        "network_type": segment.network_type,
        "physical_network": segment.physical_network,
        "segmentation_id": segment.segmentation_id,
    }


def _port(port: models.Port) -> dict[str, Any]:
    return {
        "id": port.id,
        "network_id": port.network_id,
        "mac_address": port.mac_address,
        "admin_state_up": port.admin_state_up,
        "status": port.status,
        "device_id": port.device_id,
        "device_owner": port.device_owner,
        "fixed_ips": [
            {"subnet_id": a.subnet_id, "ip_address": a.ip_address} for a in port.fixed_ips
        ],
        "port_security_enabled": port.port_security_enabled,
        "security_groups": port.security_group_ids,
        "allowed_address_pairs": list(port.allowed_address_pairs),
        "vif_type": port.binding_vif_type,
        "vif_details": dict(port.binding_vif_details),
    }


def _subnet(subnet: models.Subnet) -> dict[str, Any]:
    return {
        "id": subnet.id,
        "cidr": subnet.cidr,
        "ip_version": subnet.ip_version,
        "gateway_ip": subnet.gateway_ip,
        "enable_dhcp": subnet.enable_dhcp,
        "ipv6_ra_mode": subnet.ipv6_ra_mode,
        "ipv6_address_mode": subnet.ipv6_address_mode,
        "allocation_pools": list(subnet.allocation_pools),
        "dns_nameservers": list(subnet.dns_nameservers),
        "host_routes": list(subnet.host_routes),
    }


def _peers(
    session: Session, backend: Backend, networks: Iterable[models.Network], host: str
) -> dict[str, list[str]]:
    """For each VXLAN network, the VXLAN endpoints of the other hosts with ports bound on
    it (two queries for them all)."""
    vxlan = [n.id for n in networks if n.segments[0].network_type == "vxlan"]
    if not vxlan:
        return {}
    bound = session.execute(
        sa.select(models.Port.network_id, models.Port.binding_host_id)
        .where(
            models.Port.network_id.in_(vxlan),
            models.Port.binding_host_id != host,
            models.Port.binding_vif_type.not_in(UNWIRED),
        )
        .distinct()
    ).all()
    endpoints = {
        a.host: a.configurations["tunneling_ip"]
        for a in session.scalars(
            sa.select(models.Agent).where(
                models.Agent.agent_type == agents.L2_AGENT,
                models.Agent.host.in_({peer for _, peer in bound}),
            )
        )
        if a.configurations.get("tunneling_ip") and agents.is_alive(a, backend.agent_down_time)
    }
    peers: dict[str, set[str]] = {network_id: set() for network_id in vxlan}
    for network_id, peer in bound:
        if peer in endpoints:
            peers[network_id].add(endpoints[peer])
    return {network_id: sorted(ips) for network_id, ips in peers.items()}


def _security_groups(session: Session, group_ids: Iterable[str]) -> dict[str, Any]:
    groups = session.scalars(
        sa.select(models.SecurityGroup).where(models.SecurityGroup.id.in_(list(group_ids)))
    )
    return {
        g.id: {
            "id": g.id,
            "stateful": g.stateful,
            "rules": [
                {
                    "id": r.id,
                    "direction": r.direction,
                    "ethertype": r.ethertype,
                    "protocol": r.protocol,
                    "port_range_min": r.port_range_min,
                    "port_range_max": r.port_range_max,
                    "remote_ip_prefix": r.remote_ip_prefix,
                    "remote_group_id": r.remote_group_id,
                }
                for r in g.rules
            ],
        }
        for g in groups
    }


def _members(session: Session, group_ids: set[str]) -> dict[str, dict[str, list[str]]]:
    """The addresses (fixed IPs and allowed address pairs) of each group's ports."""
    result: dict[str, dict[str, set[str]]] = {g: {"IPv4": set(), "IPv6": set()} for g in group_ids}
    rows = session.execute(
        sa.select(models.PortSecurityGroup.security_group_id, models.Port)
        .join(models.Port, models.Port.id == models.PortSecurityGroup.port_id)
        .where(models.PortSecurityGroup.security_group_id.in_(group_ids))
    )
    for group_id, port in rows:
        addresses = [a.ip_address for a in port.fixed_ips]
        addresses += [p["ip_address"] for p in port.allowed_address_pairs]
        for address in addresses:
            version = ipaddress.ip_network(address, strict=False).version
            result[group_id][f"IPv{version}"].add(address)
    return {g: {v: sorted(a) for v, a in by.items()} for g, by in result.items()}


def _networks(session: Session, ids: Iterable[str]) -> dict[str, models.Network]:
    found = session.scalars(sa.select(models.Network).where(models.Network.id.in_(list(ids))))
    return {network.id: network for network in found}


def _ports_by_network(session: Session, network_ids: list[str]) -> dict[str, list[models.Port]]:
    found: dict[str, list[models.Port]] = {}
    for port in session.scalars(
        sa.select(models.Port).where(models.Port.network_id.in_(network_ids))
    ):
        found.setdefault(port.network_id, []).append(port)
    return found


def _dhcp_network(
    network: models.Network, dhcp_port: models.Port, served: list[models.Port]
) -> dict[str, Any]:
    return {
        **_network(network),
        "subnets": [_subnet(s) for s in network.subnets],
        "port": _port(dhcp_port),
        "ports": [
            {
                "id": p.id,
                "mac_address": p.mac_address,
                "device_owner": p.device_owner,
                "fixed_ips": [
                    {"subnet_id": a.subnet_id, "ip_address": a.ip_address} for a in p.fixed_ips
                ],
            }
            for p in served
            if p.id != dhcp_port.id
        ],
    }


def _router_port(port: models.Port, network: models.Network) -> dict[str, Any]:
    subnets = {s.id: s for s in network.subnets}  # a port's addresses are on its network's
    return {
        **_port(port),
        "network": _network(network),
        "subnets": [_subnet(subnets[a.subnet_id]) for a in port.fixed_ips],
    }
