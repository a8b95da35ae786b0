"""Ports: the one place ports are made, re-addressed, bound and removed, whoever asks
(the ports API, routers, floating IPs, the DHCP port of a network)."""

from __future__ import annotations

import ipaddress
import random
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.network import agents, ipam, models, secgroups, tags
from stratus.network.backend import Backend
from stratus.network.errors import not_found
from stratus.network.ml2.mechanism import BindingRequest
from stratus.runtime.api.errors import BadRequest, Conflict
from stratus.runtime.db import new_id

DHCP = "network:dhcp"
ROUTER_INTERFACE = "network:router_interface"
ROUTER_GATEWAY = "network:router_gateway"
FLOATING_IP = "network:floatingip"
# Ports the server made for routers and floating IPs: removed only through those APIs.
SERVER_OWNED = (ROUTER_INTERFACE, ROUTER_GATEWAY, FLOATING_IP)
UNBOUND, BINDING_FAILED = "unbound", "binding_failed"
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


@dataclass(frozen=True)
class FixedIP:
    """A requested address: a subnet, an address, or both."""

    subnet_id: str | None = None
    ip_address: str | None = None


@dataclass
class PortSpec:
    project_id: str
    name: str = ""
    description: str = ""
    admin_state_up: bool = True
    mac_address: str | None = None
    fixed_ips: list[FixedIP] | None = None  # None: one address of each IP version
    device_id: str = ""
    device_owner: str = ""
    port_security_enabled: bool | None = None  # None: the network's setting
    security_groups: list[str] | None = None  # None: the project's default group
    allowed_address_pairs: list[dict[str, str]] = field(default_factory=list)
    host: str = ""
    vnic_type: str = "normal"
    profile: dict[str, Any] = field(default_factory=dict)


def is_network_device(port: models.Port | PortSpec) -> bool:
    """Ports of routers, DHCP servers and floating IPs get no security groups."""
    return port.device_owner.startswith("network:")


def check_mac(mac: str) -> str:
    mac = mac.lower()
    if not _MAC.match(mac) or int(mac[:2], 16) & 1 or mac == "00:00:00:00:00:00":
        raise BadRequest(
            f"Invalid input for mac_address. Reason: '{mac}' is not a valid unicast MAC address.",
            error_type="InvalidInput",
        )
    return mac


def random_mac(base: str) -> str:
    prefix = base.lower().split(":")[:3]
    return ":".join([*prefix, *(f"{random.randint(0, 255):02x}" for _ in range(3))])


def create(
    session: Session, backend: Backend, network: models.Network, spec: PortSpec
) -> models.Port:
    port = models.Port(
        id=new_id(),
        project_id=spec.project_id,
        network_id=network.id,
        name=spec.name,
        description=spec.description,
        admin_state_up=spec.admin_state_up,
        status="DOWN",
        device_id=spec.device_id,
        device_owner=spec.device_owner,
        binding_host_id=spec.host,
        binding_vnic_type=spec.vnic_type,
        binding_profile=spec.profile,
        port_security_enabled=(
            network.port_security_enabled
            if spec.port_security_enabled is None
            else spec.port_security_enabled
        ),
    )
    if spec.mac_address is None:
        port.mac_address = random_mac(backend.conf.network.base_mac)
    else:
        port.mac_address = check_mac(spec.mac_address)
        check_mac_free(session, network.id, port.mac_address)
    port.network = network
    session.add(port)
    session.flush()
    if spec.fixed_ips is None:
        allocate_default(session, port, network)
    else:
        add_fixed_ips(session, port, network, spec.fixed_ips)
    groups = spec.security_groups
    if groups is None:
        groups = [] if not port.port_security_enabled or is_network_device(spec) else None
    set_security(session, port, groups, spec.allowed_address_pairs)
    bind(session, backend, port, network)
    session.flush()
    return port


def check_mac_free(session: Session, network_id: str, mac: str) -> None:
    taken = session.scalar(
        sa.select(models.Port.id).where(
            models.Port.network_id == network_id, models.Port.mac_address == mac
        )
    )
    if taken is not None:
        raise Conflict(
            f"Unable to complete operation for network {network_id}. The mac address {mac} "
            "is in use.",
            error_type="MacAddressInUse",
        )


def allocate_default(session: Session, port: models.Port, network: models.Network) -> None:
    """One address of the first IPv4 subnet with room, one of the first stateful IPv6
    subnet with room, and the SLAAC address of every auto-addressed IPv6 subnet."""
    for version in (4, 6):
        failure: Conflict | None = None
        for subnet in network.subnets:
            if subnet.ip_version != version or ipam.is_auto_address(subnet):
                continue
            try:
                _allocate(session, port, subnet, None)
                failure = None
                break
            except Conflict as exc:
                if exc.error_type != "IpAddressGenerationFailure":
                    raise
                failure = exc
        if failure is not None:
            raise failure
    for subnet in network.subnets:
        if ipam.is_auto_address(subnet):
            _allocate(session, port, subnet, None)


def add_fixed_ips(
    session: Session, port: models.Port, network: models.Network, requests: list[FixedIP]
) -> None:
    for request in requests:
        subnet = _subnet_for(network, request)
        if request.ip_address is not None and ipam.is_auto_address(subnet):
            raise BadRequest(
                f"IPv6 address {request.ip_address} cannot be directly assigned to a port on "
                f"subnet {subnet.id} with {subnet.ipv6_address_mode} address mode.",
                error_type="InvalidInput",
            )
        _allocate(session, port, subnet, request.ip_address)


def replace_fixed_ips(
    session: Session, port: models.Port, network: models.Network, requests: list[FixedIP]
) -> None:
    """Make the port's addresses those requested: addresses it holds and is asked to
    keep stay, the others go back to their pools, new ones are allocated."""
    kept: list[models.IPAllocation] = []
    missing: list[FixedIP] = []
    for request in requests:
        wanted = str(ipam.parse_ip(request.ip_address)) if request.ip_address else None
        match = next(
            (
                held
                for held in port.fixed_ips
                if held not in kept
                and (request.subnet_id in (None, held.subnet_id))
                and (wanted is None or wanted == held.ip_address)
                and (wanted is not None or request.subnet_id is not None)
            ),
            None,
        )
        if match is None:
            missing.append(request)
        else:
            kept.append(match)
    for held in [h for h in port.fixed_ips if h not in kept]:
        port.fixed_ips.remove(held)
    session.flush()
    add_fixed_ips(session, port, network, missing)


def _subnet_for(network: models.Network, request: FixedIP) -> models.Subnet:
    if request.subnet_id is not None:
        for subnet in network.subnets:
            if subnet.id == request.subnet_id:
                return subnet
        raise BadRequest(
            f"Invalid input for fixed_ips. Reason: subnet {request.subnet_id} is not a subnet "
            f"of network {network.id}.",
            error_type="InvalidInput",
        )
    if request.ip_address is None:
        raise BadRequest(
            "Invalid input for fixed_ips. Reason: each needs a subnet_id or an ip_address.",
            error_type="InvalidInput",
        )
    address = ipam.parse_ip(request.ip_address, "fixed_ips")
    for subnet in network.subnets:
        if address in ipaddress.ip_network(subnet.cidr):
            return subnet
    raise BadRequest(
        f"IP address {address} is not a valid IP for any of the subnets on network {network.id}.",
        error_type="InvalidIpForNetwork",
    )


def _allocate(
    session: Session, port: models.Port, subnet: models.Subnet, requested: str | None
) -> None:
    if any(held.subnet_id == subnet.id for held in port.fixed_ips) and requested is None:
        raise BadRequest(
            f"Invalid input for fixed_ips. Reason: the port already has an address on "
            f"subnet {subnet.id}.",
            error_type="InvalidInput",
        )
    address = ipam.choose(
        session, subnet, port, requested, for_router=port.device_owner == ROUTER_INTERFACE
    )
    port.fixed_ips.append(
        models.IPAllocation(
            subnet_id=subnet.id, ip_address=address, port_id=port.id, network_id=subnet.network_id
        )
    )
    session.flush()


def set_security(
    session: Session,
    port: models.Port,
    group_ids: list[str] | None,
    address_pairs: list[dict[str, str]] | None,
) -> None:
    """Set the port's security groups (None: the project's default group) and allowed
    address pairs (None: unchanged), checking they fit its port security setting."""
    if group_ids is None:
        group_ids = [secgroups.ensure_default(session, port.project_id)]
    _check_groups(session, port.project_id, group_ids)
    if group_ids and not port.port_security_enabled:
        raise Conflict(
            "Port security must be enabled and port must have an IP address in order to use "
            "security groups.",
            error_type="PortSecurityAndIPRequiredForSecurityGroups",
        )
    current = {b.security_group_id: b for b in port.security_group_bindings}
    port.security_group_bindings = [
        current.get(g) or models.PortSecurityGroup(port_id=port.id, security_group_id=g)
        for g in dict.fromkeys(group_ids)
    ]
    if address_pairs is not None:
        port.allowed_address_pairs = [
            {"ip_address": p["ip_address"], "mac_address": p.get("mac_address") or port.mac_address}
            for p in address_pairs
        ]
    if port.allowed_address_pairs and not port.port_security_enabled:
        raise Conflict(
            "Port Security must be enabled in order to have allowed address pairs on a port.",
            error_type="AddressPairAndPortSecurityRequired",
        )


def _check_groups(session: Session, project_id: str, group_ids: list[str]) -> None:
    """A 404 for the first group that does not exist or is another project's (their ids
    in one query: the groups' rules and tags are not needed here)."""
    if not group_ids:
        return
    group = models.SecurityGroup
    found = set(
        session.scalars(
            sa.select(group.id).where(group.id.in_(group_ids), group.project_id == project_id)
        )
    )
    for group_id in dict.fromkeys(group_ids):
        if group_id not in found:
            raise not_found("SecurityGroup", group_id)


def bind(session: Session, backend: Backend, port: models.Port, network: models.Network) -> None:
    """Bind the port to its host through the first mechanism driver that can; a port
    whose host no driver can serve is ``binding_failed``. A new binding is DOWN until
    the host's agent reports the port wired."""
    port.status = "DOWN"
    if not port.binding_host_id:
        port.binding_vif_type, port.binding_vif_details = UNBOUND, {}
        return
    request = BindingRequest(
        network_id=network.id,
        vnic_type=port.binding_vnic_type,
        host=port.binding_host_id,
        segments=list(network.segments),
        agents=agents.on_host(session, port.binding_host_id, backend.agent_down_time),
    )
    binding = backend.ml2.bind(request)
    if binding is None:
        port.binding_vif_type, port.binding_vif_details = BINDING_FAILED, {}
    else:
        port.binding_vif_type, port.binding_vif_details = binding.vif_type, binding.vif_details


def delete(session: Session, port: models.Port) -> None:
    """Remove the port; floating IPs on it are disassociated, its addresses freed. The
    port's row is changed first: of two deletes at once, the second then fails on it
    (and is retried, to find the port gone) before it removes any of the port's rows."""
    port.touch()
    session.flush()
    for floating in session.scalars(
        sa.select(models.FloatingIP).where(models.FloatingIP.fixed_port_id == port.id)
    ):
        disassociate(floating)
    tags.drop(session, port.id)
    session.delete(port)
    session.flush()


def disassociate(floating: models.FloatingIP) -> None:
    floating.fixed_port_id = None
    floating.fixed_ip_address = None
    floating.router_id = None
    floating.status = "DOWN"
