"""``/v2.0/extensions``: exactly the Neutron API extensions this server implements."""

from __future__ import annotations

from typing import Any

from fastapi import Depends

from stratus.network.errors import not_found
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.routing import Router

router = Router()
UPDATED = "2025-01-01T00:00:00-00:00"

EXTENSIONS = {
    "agent": ("agent", "Agents and their heartbeats."),
    "allowed-address-pairs": ("Allowed Address Pairs", "Extra addresses a port may send from."),
    "availability_zone": ("Availability Zone", "Availability zones of agents."),
    "binding": ("Port Binding", "Binding of ports to hosts: vif type and details."),
    "default-subnetpools": ("Default Subnetpools", "A default subnet pool per IP version."),
    "ext-gw-mode": ("Neutron L3 Configurable external gateway mode", "SNAT on or off."),
    "external-net": ("Neutron external network", "Networks routers use as gateways."),
    "extraroute": ("Neutron Extra Route", "Static routes on routers."),
    "extraroute-atomic": ("Atomically add/remove extra routes", "Route changes in place."),
    "filter-validation": ("Filter parameters validation", "Unknown filters are refused."),
    "fip-port-details": ("Floating IP Port Details", "The port a floating IP is on."),
    "net-mtu": ("Network MTU", "The MTU of networks."),
    "net-mtu-writable": ("Network MTU (writable)", "The MTU of networks may be set."),
    "network_availability_zone": ("Network Availability Zone", "Zone hints of networks."),
    "pagination": ("Pagination support", "limit and marker on lists."),
    "port-security": ("Port Security", "Port security on networks and ports."),
    "project-id": ("project_id field enabled", "project_id alongside tenant_id."),
    "provider": ("Provider Network", "Provider attributes of networks."),
    "quota_details": ("Quota details management support", "Quota usage of a project."),
    "quotas": ("Quota management support", "Per-project quotas."),
    "revision-if-match": ("If-Match constraints based on revision_number", "If-Match."),
    "router": ("Neutron L3 Router", "Routers, interfaces and floating IPs."),
    "router_availability_zone": ("Router Availability Zone", "Zone hints of routers."),
    "security-group": ("security-group", "Security groups and their rules."),
    "sorting": ("Sorting support", "sort_key and sort_dir on lists."),
    "standard-attr-description": ("standard-attr-description", "Descriptions."),
    "standard-attr-revisions": ("Resource revision numbers", "revision_number."),
    "standard-attr-tag": ("Tag support for resources", "Tags on resources."),
    "standard-attr-timestamp": ("Resource timestamps", "created_at and updated_at."),
    "stateful-security-group": ("Stateful security group", "Stateless groups."),
    "subnet_allocation": ("Subnet Allocation", "Subnet pools."),
    "tag-ports-during-bulk-creation": ("Tag Ports During Bulk Creation", "tags on port create."),
}


def _render(alias: str) -> dict[str, Any]:
    name, description = EXTENSIONS[alias]
    return {
        "alias": alias,
        "name": name,
        "description": description,
        "updated": UPDATED,
        "links": [],
    }


@router.get("/v2.0/extensions")
def list_extensions(ctx: RequestContext = Depends(authenticated)) -> dict[str, Any]:
    return {"extensions": [_render(alias) for alias in sorted(EXTENSIONS)]}


@router.get("/v2.0/extensions/{alias}")
def show_extension(alias: str, ctx: RequestContext = Depends(authenticated)) -> dict[str, Any]:
    if alias not in EXTENSIONS:
        raise not_found("Extension", alias)
    return {"extension": _render(alias)}
