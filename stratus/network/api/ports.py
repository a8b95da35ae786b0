"""``/v2.0/ports``: ports with their fixed IPs, MAC, device, security groups, allowed
address pairs and binding (``binding:*`` is for admins and services such as compute)."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, lazyload

from stratus.network import ipam, models, policy, ports, quotas, tags
from stratus.network.api import access
from stratus.network.api.common import (
    Body,
    OwnedBody,
    UpdateBody,
    apply,
    boolean,
    check_revision,
    collection,
    fields_of,
    list_query,
    list_rows,
    match,
    owned,
    select_fields,
    standard_filters,
)
from stratus.network.backend import Backend
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Conflict
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import json_body

router = Router()
VnicType = Literal[
    "normal",
    "direct",
    "macvtap",
    "baremetal",
    "direct-physical",
    "virtio-forwarder",
    "smart-nic",
    "remote-managed",
    "vdpa",
]
DEVICE = Field("", max_length=models.NAME)


class FixedIPBody(Body):
    subnet_id: str | None = None
    ip_address: str | None = None


class AddressPair(Body):
    ip_address: str
    mac_address: str | None = None


class PortCreate(OwnedBody):
    network_id: str
    admin_state_up: bool = True
    mac_address: str | None = None
    fixed_ips: list[FixedIPBody] | None = None
    device_id: str = DEVICE
    device_owner: str = DEVICE
    port_security_enabled: bool | None = None
    security_groups: list[str] | None = None
    allowed_address_pairs: list[AddressPair] = Field(default_factory=list)
    binding_host_id: str = Field("", alias="binding:host_id", max_length=models.NAME)
    binding_vnic_type: VnicType = Field("normal", alias="binding:vnic_type")
    binding_profile: dict[str, Any] = Field(default_factory=dict, alias="binding:profile")
    tags: list[str] | None = None


class PortUpdate(UpdateBody):
    admin_state_up: bool | None = None
    mac_address: str | None = None
    fixed_ips: list[FixedIPBody] | None = None
    device_id: str | None = Field(None, max_length=models.NAME)
    device_owner: str | None = Field(None, max_length=models.NAME)
    port_security_enabled: bool | None = None
    security_groups: list[str] | None = None
    allowed_address_pairs: list[AddressPair] | None = None
    binding_host_id: str | None = Field(None, alias="binding:host_id", max_length=models.NAME)
    binding_vnic_type: VnicType | None = Field(None, alias="binding:vnic_type")
    binding_profile: dict[str, Any] | None = Field(None, alias="binding:profile")


class CreateRequest(BaseModel):
    port: PortCreate


# The fields of a port update that DHCP servers do not serve: binding a port to a host
# (which port plugging and container agents do for every instance) wakes only L2 agents.
BINDING = frozenset({"binding_host_id", "binding_vnic_type", "binding_profile"})


class UpdateRequest(BaseModel):
    port: PortUpdate


def render(port: models.Port, ctx: RequestContext) -> dict[str, Any]:
    body = {
        **owned(port),
        "name": port.name,
        "network_id": port.network_id,
        "admin_state_up": port.admin_state_up,
        "status": port.status,
        "mac_address": port.mac_address,
        "fixed_ips": [
            {"subnet_id": a.subnet_id, "ip_address": a.ip_address} for a in port.fixed_ips
        ],
        "device_id": port.device_id,
        "device_owner": port.device_owner,
        "port_security_enabled": port.port_security_enabled,
        "security_groups": port.security_group_ids,
        "allowed_address_pairs": list(port.allowed_address_pairs),
        "binding:vnic_type": port.binding_vnic_type,
    }
    if policy.allowed(ctx, "get_port:binding"):
        body["binding:host_id"] = port.binding_host_id
        body["binding:vif_type"] = port.binding_vif_type
        body["binding:vif_details"] = dict(port.binding_vif_details)
        body["binding:profile"] = dict(port.binding_profile)
    return body


def _fixed_ips_filter(values: list[str]) -> sa.ColumnElement[bool]:
    """``fixed_ips=ip_address=10.0.0.5`` or ``fixed_ips=subnet_id=<id>``, all must hold."""
    clauses = []
    for value in values:
        key, _, wanted = value.partition("=")
        columns = {
            "ip_address": models.IPAllocation.ip_address,
            "subnet_id": models.IPAllocation.subnet_id,
        }
        if key not in columns or not wanted:
            raise BadRequest(
                f"fixed_ips filter {value!r} is not ip_address=<address> or subnet_id=<id>.",
                error_type="HTTPBadRequest",
            )
        held = sa.select(models.IPAllocation.port_id).where(columns[key] == wanted)
        clauses.append(models.Port.id.in_(held))
    return sa.and_(*clauses)


def _groups_filter(values: list[str]) -> sa.ColumnElement[bool]:
    members = sa.select(models.PortSecurityGroup.port_id).where(
        models.PortSecurityGroup.security_group_id.in_(values)
    )
    return models.Port.id.in_(members)


FILTERS = {
    **standard_filters(models.Port),
    "network_id": match(models.Port.network_id),
    "mac_address": match(models.Port.mac_address),
    "admin_state_up": match(models.Port.admin_state_up, boolean),
    "status": match(models.Port.status),
    "device_id": match(models.Port.device_id),
    "device_owner": match(models.Port.device_owner),
    "port_security_enabled": match(models.Port.port_security_enabled, boolean),
    "binding:host_id": match(models.Port.binding_host_id),
    "binding:vnic_type": match(models.Port.binding_vnic_type),
    "fixed_ips": _fixed_ips_filter,
    "security_groups": _groups_filter,
}
SORT_KEYS = (
    "id",
    "name",
    "status",
    "network_id",
    "device_id",
    "device_owner",
    "created_at",
    "mac_address",
    "project_id",
)


@router.get("/v2.0/ports")
def list_ports(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    query = list_query(request, models.Port, FILTERS, SORT_KEYS)

    def work(session: Session) -> dict[str, Any]:
        stmt = sa.select(models.Port).where(access.ports(ctx))
        rows, links = list_rows(session, request, stmt, models.Port, query, "ports")
        return collection("ports", [render(p, ctx) for p in rows], links, query.fields)

    return be.transaction(work)


@router.get("/v2.0/ports/{port_id}")
def show_port(
    port_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        return render(access.find(session, ctx, models.Port, port_id), ctx)

    return {"port": select_fields(be.transaction(work), fields_of(request))}


def _target(network: models.Network, project: str) -> dict[str, Any]:
    return {
        "project_id": project,
        "network_project_id": network.project_id,
        "shared": network.shared,
    }


def _network_of(session: Session, port: models.Port) -> models.Network:
    """The port's network, its segments, subnets and tags loaded only when used (most
    updates and deletes need none of them: five queries down to one)."""
    network = models.Network
    return session.get_one(
        network,
        port.network_id,
        options=[lazyload(network.segments), lazyload(network.subnets), lazyload(network.tags)],
    )


def _address_pairs(be: Backend, pairs: list[AddressPair]) -> list[dict[str, str]]:
    limit = be.conf.network.max_allowed_address_pair
    if len(pairs) > limit:
        raise BadRequest(
            f"Exceeded maximum amount of allowed address pairs ({limit}).",
            error_type="AllowedAddressPairExhausted",
        )
    result = []
    for pair in pairs:
        prefix = ipam.parse_prefix(pair.ip_address, "allowed_address_pairs")
        ip = str(prefix.network_address) if prefix.num_addresses == 1 else str(prefix)
        entry = {"ip_address": ip}
        if pair.mac_address is not None:
            entry["mac_address"] = ports.check_mac(pair.mac_address)
        if entry in result:
            raise BadRequest(
                f"Allowed address pair {ip} is listed twice.",
                error_type="DuplicateAddressPairInRequest",
            )
        result.append(entry)
    return result


def _fixed_ips(requests: list[FixedIPBody] | None) -> list[ports.FixedIP] | None:
    if requests is None:
        return None
    return [ports.FixedIP(r.subnet_id, r.ip_address) for r in requests]


@router.post("/v2.0/ports", status_code=201)
def create_port(
    body: CreateRequest = Depends(json_body(CreateRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    spec = body.port
    project = spec.owner(ctx)
    pairs = _address_pairs(be, spec.allowed_address_pairs)

    def work(session: Session) -> tuple[dict[str, Any], str]:
        network = access.find(session, ctx, models.Network, spec.network_id)
        target = _target(network, project)
        policy.enforce(ctx, "create_port", target)
        attributes = {
            "device_owner": spec.device_owner.startswith("network:"),
            "mac_address": spec.mac_address,
            "fixed_ips:ip_address": any(f.ip_address for f in spec.fixed_ips or []),
            "port_security_enabled": "port_security_enabled" in spec.model_fields_set,
            "binding": bool(spec.binding_host_id or spec.binding_profile),
        }
        policy.enforce_attributes(ctx, "create_port", attributes, target)
        quotas.check(session, be.conf, project, "port")
        port = ports.create(
            session,
            be,
            network,
            ports.PortSpec(
                project_id=project,
                name=spec.name,
                description=spec.description,
                admin_state_up=spec.admin_state_up,
                mac_address=spec.mac_address,
                fixed_ips=_fixed_ips(spec.fixed_ips),
                device_id=spec.device_id,
                device_owner=spec.device_owner,
                port_security_enabled=spec.port_security_enabled,
                security_groups=spec.security_groups,
                allowed_address_pairs=pairs,
                host=spec.binding_host_id,
                vnic_type=spec.binding_vnic_type,
                profile=spec.binding_profile,
            ),
        )
        if spec.tags:
            tags.replace(session, port, spec.tags)
        return render(port, ctx), network.id

    result, network_id = be.transaction(work)
    be.notifier.networks_changed([network_id])
    return {"port": result}


@router.put("/v2.0/ports/{port_id}")
def update_port(
    port_id: str,
    request: Request,
    body: UpdateRequest = Depends(json_body(UpdateRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    spec = body.port
    pairs = (
        None
        if spec.allowed_address_pairs is None
        else _address_pairs(be, spec.allowed_address_pairs)
    )

    def work(session: Session) -> dict[str, Any]:
        port = access.find(session, ctx, models.Port, port_id)
        check_revision(request, port)
        network = _network_of(session, port)
        target = _target(network, port.project_id)
        policy.enforce(ctx, "update_port", target)
        attributes = {
            "device_owner": (spec.device_owner or "").startswith("network:"),
            "mac_address": spec.mac_address,
            "fixed_ips:ip_address": any(f.ip_address for f in spec.fixed_ips or []),
            "port_security_enabled": spec.port_security_enabled is not None,
            "binding": spec.binding_host_id is not None or spec.binding_profile is not None,
        }
        policy.enforce_attributes(ctx, "update_port", attributes, target)
        if spec.mac_address is not None and spec.mac_address.lower() != port.mac_address:
            _change_mac(session, port, spec.mac_address)
        if spec.fixed_ips is not None:
            ports.replace_fixed_ips(session, port, network, _fixed_ips(spec.fixed_ips) or [])
        apply(
            port,
            spec,
            "name",
            "description",
            "admin_state_up",
            "device_id",
            "device_owner",
            "port_security_enabled",
        )
        if (
            spec.security_groups is None
            and not port.port_security_enabled
            and port.security_group_bindings
        ):
            raise Conflict(
                "Port has security group associated. Cannot disable port security or IP address "
                "until security group is removed.",
                error_type="PortSecurityPortHasSecurityGroup",
            )
        groups = port.security_group_ids if spec.security_groups is None else spec.security_groups
        ports.set_security(session, port, groups, pairs)
        binding_changed = False
        for name, column in (
            ("binding_host_id", "binding_host_id"),
            ("binding_vnic_type", "binding_vnic_type"),
            ("binding_profile", "binding_profile"),
        ):
            value = getattr(spec, name)
            if value is not None and value != getattr(port, column):
                setattr(port, column, value)
                binding_changed = True
        if binding_changed:
            ports.bind(session, be, port, network)
        port.touch()
        session.flush()
        return render(port, ctx)

    result = be.transaction(work)
    be.notifier.networks_changed([result["network_id"]], dhcp=not spec.model_fields_set <= BINDING)
    return {"port": result}


def _change_mac(session: Session, port: models.Port, mac: str) -> None:
    if port.binding_vif_type not in (ports.UNBOUND, ports.BINDING_FAILED):
        raise Conflict(
            f"Unable to complete operation on port {port.id}: the port is bound, so its MAC "
            "address cannot change.",
            error_type="PortBound",
        )
    mac = ports.check_mac(mac)
    ports.check_mac_free(session, port.network_id, mac)
    port.mac_address = mac


@router.delete("/v2.0/ports/{port_id}", status_code=204)
def delete_port(
    port_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> Response:
    def work(session: Session) -> str:
        port = access.find(session, ctx, models.Port, port_id)
        check_revision(request, port)
        network = _network_of(session, port)
        policy.enforce(ctx, "delete_port", _target(network, port.project_id))
        if port.device_owner in ports.SERVER_OWNED:
            raise Conflict(
                f"Port {port.id} cannot be deleted directly via the port API: it has device "
                f"owner {port.device_owner}.",
                error_type="L3PortInUse",
            )
        network_id = port.network_id
        ports.delete(session, port)
        return network_id

    network_id = be.transaction(work)
    be.notifier.networks_changed([network_id])
    return Response(status_code=204)
