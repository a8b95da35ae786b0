"""``/v2.0/security-groups`` and ``/v2.0/security-group-rules``.

Listing or creating groups first makes sure the caller's project has its ``default``
group. Changing a group's rules raises the group's revision, so concurrent creates of
the same rule cannot both pass the duplicate check.
"""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from stratus.network import ipam, models, policy, quotas, secgroups, tags
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
    integer,
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
from stratus.runtime.db import new_id

router = Router()

# IANA protocol numbers of the names Neutron accepts.
PROTOCOLS = {
    "ah": 51,
    "dccp": 33,
    "egp": 8,
    "esp": 50,
    "gre": 47,
    "icmp": 1,
    "icmpv6": 58,
    "igmp": 2,
    "ipip": 4,
    "ipv6-encap": 41,
    "ipv6-frag": 44,
    "ipv6-icmp": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "ipv6-route": 43,
    "ospf": 89,
    "pgm": 113,
    "rsvp": 46,
    "sctp": 132,
    "tcp": 6,
    "udp": 17,
    "udplite": 136,
    "vrrp": 112,
}
PORT_PROTOCOLS = {6, 17, 33, 132, 136}
ICMP_PROTOCOLS = {1, 58}


class GroupCreate(OwnedBody):
    stateful: bool = True


class GroupUpdate(UpdateBody):
    stateful: bool | None = None


class RuleCreate(Body):
    security_group_id: str
    direction: Literal["ingress", "egress"]
    ethertype: Literal["IPv4", "IPv6"] = "IPv4"
    protocol: str | int | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    description: str = Field("", max_length=models.NAME)
    project_id: str | None = None
    tenant_id: str | None = None


class GroupCreateRequest(BaseModel):
    security_group: GroupCreate


class GroupUpdateRequest(BaseModel):
    security_group: GroupUpdate


class RuleCreateRequest(BaseModel):
    security_group_rule: RuleCreate


def render_rule(rule: models.SecurityGroupRule) -> dict[str, Any]:
    return {
        **owned(rule),
        "security_group_id": rule.security_group_id,
        "direction": rule.direction,
        "ethertype": rule.ethertype,
        "protocol": rule.protocol,
        "port_range_min": rule.port_range_min,
        "port_range_max": rule.port_range_max,
        "remote_ip_prefix": rule.remote_ip_prefix,
        "normalized_cidr": rule.remote_ip_prefix,
        "remote_group_id": rule.remote_group_id,
        "remote_address_group_id": None,
    }


def render_group(group: models.SecurityGroup) -> dict[str, Any]:
    return {
        **owned(group),
        "name": group.name,
        "stateful": group.stateful,
        "shared": False,
        "security_group_rules": [render_rule(r) for r in group.rules],
    }


GROUP_FILTERS = {
    **standard_filters(models.SecurityGroup),
    "stateful": match(models.SecurityGroup.stateful, boolean),
}
RULE_FILTERS = {
    **standard_filters(models.SecurityGroupRule),
    "security_group_id": match(models.SecurityGroupRule.security_group_id),
    "direction": match(models.SecurityGroupRule.direction),
    "ethertype": match(models.SecurityGroupRule.ethertype),
    "protocol": match(models.SecurityGroupRule.protocol),
    "port_range_min": match(models.SecurityGroupRule.port_range_min, integer),
    "port_range_max": match(models.SecurityGroupRule.port_range_max, integer),
    "remote_ip_prefix": match(models.SecurityGroupRule.remote_ip_prefix),
    "remote_group_id": match(models.SecurityGroupRule.remote_group_id),
}
del RULE_FILTERS["name"]


def _ensure_own_default(session: Session, ctx: RequestContext) -> None:
    if ctx.project_id:
        secgroups.ensure_default(session, ctx.project_id)


@router.get("/v2.0/security-groups")
def list_groups(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    query = list_query(request, models.SecurityGroup, GROUP_FILTERS)

    def work(session: Session) -> dict[str, Any]:
        _ensure_own_default(session, ctx)
        stmt = sa.select(models.SecurityGroup).where(access.owned(models.SecurityGroup, ctx))
        rows, links = list_rows(
            session, request, stmt, models.SecurityGroup, query, "security_groups"
        )
        return collection("security_groups", [render_group(g) for g in rows], links, query.fields)

    return be.transaction(work)


@router.get("/v2.0/security-groups/{group_id}")
def show_group(
    group_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        return render_group(access.find(session, ctx, models.SecurityGroup, group_id))

    return {"security_group": select_fields(be.transaction(work), fields_of(request))}


@router.post("/v2.0/security-groups", status_code=201)
def create_group(
    body: GroupCreateRequest = Depends(json_body(GroupCreateRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    spec = body.security_group
    project = spec.owner(ctx)
    policy.enforce(ctx, "create_security_group", {"project_id": project})

    def work(session: Session) -> dict[str, Any]:
        secgroups.ensure_default(session, project)
        if spec.name == secgroups.DEFAULT_NAME:
            raise Conflict(
                "Default security group already exists.",
                error_type="SecurityGroupDefaultAlreadyExists",
            )
        quotas.check(session, be.conf, project, "security_group")
        group = secgroups.create_group(session, project, spec.name, spec.description, spec.stateful)
        session.flush()
        return render_group(group)

    return {"security_group": be.transaction(work)}


@router.put("/v2.0/security-groups/{group_id}")
def update_group(
    group_id: str,
    request: Request,
    body: GroupUpdateRequest = Depends(json_body(GroupUpdateRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    spec = body.security_group

    def work(session: Session) -> dict[str, Any]:
        group = access.find(session, ctx, models.SecurityGroup, group_id)
        check_revision(request, group)
        policy.enforce(ctx, "update_security_group", {"project_id": group.project_id})
        default = secgroups.is_default(session, group)
        if default and spec.name not in (None, secgroups.DEFAULT_NAME):
            raise Conflict(
                "Updating default security group not allowed.",
                error_type="SecurityGroupCannotUpdateDefault",
            )
        if spec.name == secgroups.DEFAULT_NAME and not default:
            raise Conflict(
                "Default security group already exists.",
                error_type="SecurityGroupDefaultAlreadyExists",
            )
        if (
            spec.stateful is not None
            and spec.stateful != group.stateful
            and _in_use(session, group)
        ):
            raise Conflict(
                f"Security group {group.id} is in use, so it cannot change to "
                f"{'stateful' if spec.stateful else 'stateless'}.",
                error_type="SecurityGroupInUse",
            )
        apply(group, spec, "name", "description", "stateful")
        group.touch()
        session.flush()
        return render_group(group)

    result = be.transaction(work)
    be.notifier.security_groups_changed([group_id])
    return {"security_group": result}


def _in_use(session: Session, group: models.SecurityGroup) -> bool:
    return (
        session.scalar(
            sa.select(models.PortSecurityGroup.port_id).where(
                models.PortSecurityGroup.security_group_id == group.id
            )
        )
        is not None
    )


@router.delete("/v2.0/security-groups/{group_id}", status_code=204)
def delete_group(
    group_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> Response:
    def work(session: Session) -> None:
        group = access.find(session, ctx, models.SecurityGroup, group_id)
        check_revision(request, group)
        policy.enforce(ctx, "delete_security_group", {"project_id": group.project_id})
        if secgroups.is_default(session, group) and not ctx.is_admin:
            raise Conflict(
                "Insufficient rights for removing default security group.",
                error_type="SecurityGroupCannotRemoveDefault",
            )
        if _in_use(session, group):
            raise Conflict(f"Security Group {group.id} in use.", error_type="SecurityGroupInUse")
        referring = session.scalars(
            sa.select(models.SecurityGroupRule).where(
                sa.or_(
                    models.SecurityGroupRule.security_group_id == group.id,
                    models.SecurityGroupRule.remote_group_id == group.id,
                )
            )
        )
        for rule in referring:
            tags.drop(session, rule.id)
            if rule.security_group_id != group.id:
                session.delete(rule)
        tags.drop(session, group.id)
        session.execute(
            sa.delete(models.DefaultSecurityGroup).where(
                models.DefaultSecurityGroup.security_group_id == group.id
            )
        )
        session.delete(group)

    be.transaction(work)
    be.notifier.security_groups_changed([group_id])
    return Response(status_code=204)


@router.get("/v2.0/security-group-rules")
def list_rules(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    query = list_query(
        request,
        models.SecurityGroupRule,
        RULE_FILTERS,
        ("id", "created_at", "direction", "protocol", "project_id"),
    )

    def work(session: Session) -> dict[str, Any]:
        _ensure_own_default(session, ctx)
        stmt = sa.select(models.SecurityGroupRule).where(
            access.owned(models.SecurityGroupRule, ctx)
        )
        rows, links = list_rows(
            session, request, stmt, models.SecurityGroupRule, query, "security_group_rules"
        )
        return collection(
            "security_group_rules", [render_rule(r) for r in rows], links, query.fields
        )

    return be.transaction(work)


@router.get("/v2.0/security-group-rules/{rule_id}")
def show_rule(
    rule_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        return render_rule(access.find(session, ctx, models.SecurityGroupRule, rule_id))

    return {"security_group_rule": select_fields(be.transaction(work), fields_of(request))}


@router.post("/v2.0/security-group-rules", status_code=201)
def create_rule(
    body: RuleCreateRequest = Depends(json_body(RuleCreateRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    spec = body.security_group_rule
    protocol, number = _protocol(spec.protocol)
    low, high = _port_range(number, spec.port_range_min, spec.port_range_max)
    prefix = _remote_prefix(spec)
    if number == PROTOCOLS["icmpv6"] and spec.ethertype == "IPv4":
        raise BadRequest(
            f"Security group rule for ethertype IPv4 and protocol {protocol} conflict.",
            error_type="SecurityGroupEthertypeConflictWithProtocol",
        )

    def work(session: Session) -> tuple[dict[str, Any], str]:
        group = access.find(session, ctx, models.SecurityGroup, spec.security_group_id)
        policy.enforce(ctx, "create_security_group_rule", {"project_id": group.project_id})
        if any(p and p != group.project_id for p in (spec.project_id, spec.tenant_id)):
            raise BadRequest(
                f"A rule belongs to the project of its group, {group.project_id}.",
                error_type="InvalidInput",
            )
        if spec.remote_group_id is not None:
            access.find(session, ctx, models.SecurityGroup, spec.remote_group_id)
        quotas.check(session, be.conf, group.project_id, "security_group_rule")
        rule = models.SecurityGroupRule(
            id=new_id(),
            project_id=group.project_id,
            security_group_id=group.id,
            direction=spec.direction,
            ethertype=spec.ethertype,
            protocol=protocol,
            port_range_min=low,
            port_range_max=high,
            remote_ip_prefix=prefix,
            remote_group_id=spec.remote_group_id,
            description=spec.description,
        )
        _check_duplicate(group, rule)
        group.rules.append(rule)
        group.touch()
        session.flush()
        return render_rule(rule), group.id

    result, group_id = be.transaction(work)
    be.notifier.security_groups_changed([group_id])
    return {"security_group_rule": result}


def _protocol(value: str | int | None) -> tuple[str | None, int | None]:
    """The protocol as stored (a name or a number, as given) and its number."""
    if value is None or (isinstance(value, str) and value.lower() in ("", "any")):
        return None, None
    text = str(value).lower()
    if text in PROTOCOLS:
        return text, PROTOCOLS[text]
    if text.isdigit() and 0 <= int(text) <= 255:
        return text, int(text)
    raise BadRequest(
        f"Security group rule protocol {value} not supported. Only protocol values "
        f"{', '.join(sorted(PROTOCOLS))} and integer representations [0 to 255] are supported.",
        error_type="SecurityGroupRuleInvalidProtocol",
    )


def _port_range(
    protocol: int | None, low: int | None, high: int | None
) -> tuple[int | None, int | None]:
    if low is None and high is None:
        return None, None
    if protocol is None:
        raise BadRequest(
            "Must also specify protocol if port range is given.",
            error_type="SecurityGroupProtocolRequiredWithPorts",
        )
    if protocol in ICMP_PROTOCOLS:
        if low is None:
            raise BadRequest(
                f"ICMP code (port-range-max) {high} is provided but ICMP type "
                "(port-range-min) is missing.",
                error_type="SecurityGroupMissingIcmpType",
            )
        for field, value in (("type", low), ("code", high)):
            if value is not None and not 0 <= value <= 255:
                raise BadRequest(
                    f"Invalid value for ICMP {field}: {value} is not within 0-255.",
                    error_type="SecurityGroupInvalidIcmpValue",
                )
        return low, high
    if protocol not in PORT_PROTOCOLS:
        raise BadRequest(
            f"Invalid protocol {protocol} for port range, only supported for TCP, UDP, "
            "UDPLITE, SCTP and DCCP.",
            error_type="SecurityGroupInvalidProtocolForPort",
        )
    if low is None:
        raise BadRequest(
            "port_range_max is given without port_range_min.",
            error_type="SecurityGroupInvalidPortRange",
        )
    high = low if high is None else high
    for value in (low, high):
        if not 1 <= value <= 65535:
            raise BadRequest(
                f"Invalid value for port {value}: ports are 1 to 65535.",
                error_type="SecurityGroupInvalidPortValue",
            )
    if low > high:
        raise BadRequest(
            "For TCP/UDP protocols, port_range_min must be <= port_range_max.",
            error_type="SecurityGroupInvalidPortRange",
        )
    return low, high


def _remote_prefix(spec: RuleCreate) -> str | None:
    if spec.remote_ip_prefix is None:
        return None
    if spec.remote_group_id is not None:
        raise BadRequest(
            "Only remote_ip_prefix or remote_group_id may be provided.",
            error_type="SecurityGroupRemoteGroupAndRemoteIpPrefix",
        )
    prefix = ipam.parse_prefix(spec.remote_ip_prefix, "remote_ip_prefix")
    if f"IPv{prefix.version}" != spec.ethertype:
        raise BadRequest(
            f"Conflicting value ethertype {spec.ethertype} for CIDR {spec.remote_ip_prefix}.",
            error_type="SecurityGroupRuleParameterConflict",
        )
    return str(prefix)


def _check_duplicate(group: models.SecurityGroup, rule: models.SecurityGroupRule) -> None:
    def key(r: models.SecurityGroupRule) -> tuple[Any, ...]:
        proto = _protocol(r.protocol)[1]
        return (
            r.direction,
            r.ethertype,
            proto,
            r.port_range_min,
            r.port_range_max,
            r.remote_ip_prefix,
            r.remote_group_id,
        )

    for existing in group.rules:
        if key(existing) == key(rule):
            raise Conflict(
                f"Security group rule already exists. Rule id is {existing.id}.",
                error_type="SecurityGroupRuleExists",
            )


@router.delete("/v2.0/security-group-rules/{rule_id}", status_code=204)
def delete_rule(
    rule_id: str,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> Response:
    def work(session: Session) -> str:
        rule = access.find(session, ctx, models.SecurityGroupRule, rule_id)
        policy.enforce(ctx, "delete_security_group_rule", {"project_id": rule.project_id})
        group = session.get_one(models.SecurityGroup, rule.security_group_id)
        group.rules.remove(rule)
        tags.drop(session, rule.id)
        group.touch()
        return group.id

    group_id = be.transaction(work)
    be.notifier.security_groups_changed([group_id])
    return Response(status_code=204)
