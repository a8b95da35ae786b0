"""Who may do what, with the default personas: admin, project member, project reader.

Targets carry the resource's ``project_id`` and, for resources on a network, the
network's owner (``network_project_id``) and whether it is ``shared``. Rules named
``<action>:<attribute>`` guard attributes only some may set (provider attributes,
shared, external, bindings). What a caller may not see at all is a 404, never a 403.
"""

from __future__ import annotations

from stratus.network.errors import not_allowed
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.policy import (
    ADMIN,
    ANYONE,
    PROJECT_MEMBER,
    PROJECT_READER,
    Check,
    Policy,
    Target,
    all_of,
    any_of,
    owner,
    role,
)


def _flag(key: str) -> Check:
    return lambda ctx, target: bool(target.get(key))


NETWORK_OWNER: Check = all_of(role("member"), owner("network_project_id"))
OWNER_OR_NETWORK_OWNER: Check = any_of(PROJECT_MEMBER, NETWORK_OWNER)
ADMIN_OR_NETWORK_OWNER: Check = any_of(ADMIN, NETWORK_OWNER)

RULES: dict[str, Check] = {
    "create_network": PROJECT_MEMBER,
    "create_network:shared": ADMIN,
    "create_network:router:external": ADMIN,
    "create_network:provider:network_type": ADMIN,
    "create_network:provider:physical_network": ADMIN,
    "create_network:provider:segmentation_id": ADMIN,
    "update_network": PROJECT_MEMBER,
    "update_network:shared": ADMIN,
    "update_network:router:external": ADMIN,
    "delete_network": PROJECT_MEMBER,
    "get_network:provider": ADMIN,
    "create_subnet": ADMIN_OR_NETWORK_OWNER,
    "update_subnet": ADMIN_OR_NETWORK_OWNER,
    "delete_subnet": ADMIN_OR_NETWORK_OWNER,
    "create_subnetpool": PROJECT_MEMBER,
    "create_subnetpool:shared": ADMIN,
    "create_subnetpool:is_default": ADMIN,
    "update_subnetpool": PROJECT_MEMBER,
    "update_subnetpool:is_default": ADMIN,
    "delete_subnetpool": PROJECT_MEMBER,
    "create_port": all_of(PROJECT_MEMBER, any_of(ADMIN, NETWORK_OWNER, _flag("shared"))),
    "create_port:device_owner": ADMIN_OR_NETWORK_OWNER,
    "create_port:mac_address": ADMIN_OR_NETWORK_OWNER,
    "create_port:fixed_ips:ip_address": ADMIN_OR_NETWORK_OWNER,
    "create_port:port_security_enabled": ADMIN_OR_NETWORK_OWNER,
    "create_port:binding": ADMIN,
    "update_port": OWNER_OR_NETWORK_OWNER,
    "update_port:device_owner": ADMIN_OR_NETWORK_OWNER,
    "update_port:mac_address": ADMIN,
    "update_port:fixed_ips:ip_address": ADMIN_OR_NETWORK_OWNER,
    "update_port:port_security_enabled": ADMIN_OR_NETWORK_OWNER,
    "update_port:binding": ADMIN,
    "delete_port": OWNER_OR_NETWORK_OWNER,
    "get_port:binding": ADMIN,
    "create_router": PROJECT_MEMBER,
    "create_router:external_gateway_info:enable_snat": ADMIN,
    "create_router:external_gateway_info:external_fixed_ips": ADMIN,
    "update_router": PROJECT_MEMBER,
    "update_router:external_gateway_info:enable_snat": ADMIN,
    "update_router:external_gateway_info:external_fixed_ips": ADMIN,
    "delete_router": PROJECT_MEMBER,
    "add_router_interface": PROJECT_MEMBER,
    "remove_router_interface": PROJECT_MEMBER,
    "create_floatingip": PROJECT_MEMBER,
    "create_floatingip:floating_ip_address": ADMIN,
    "update_floatingip": PROJECT_MEMBER,
    "delete_floatingip": PROJECT_MEMBER,
    "create_security_group": PROJECT_MEMBER,
    "update_security_group": PROJECT_MEMBER,
    "delete_security_group": PROJECT_MEMBER,
    "create_security_group_rule": PROJECT_MEMBER,
    "delete_security_group_rule": PROJECT_MEMBER,
    "update_tags": PROJECT_MEMBER,
    "get_quota": PROJECT_READER,
    "get_quotas": ADMIN,
    "update_quota": ADMIN,
    "delete_quota": ADMIN,
    # Read-only for every project too, so users can see which hosts serve networks.
    "get_agent": ANYONE,
    "update_agent": ADMIN,
    "delete_agent": ADMIN,
}


POLICY = Policy(RULES)


def allowed(ctx: RequestContext, action: str, target: Target | None = None) -> bool:
    return POLICY.check(ctx, action, target)


def enforce(ctx: RequestContext, action: str, target: Target | None = None) -> None:
    """A 403 (typed PolicyNotAuthorized, as Neutron's) unless the rule allows it."""
    if not POLICY.check(ctx, action, target):
        raise not_allowed(f"Policy does not allow {action} to be performed.")


def enforce_attributes(
    ctx: RequestContext, action: str, attributes: dict[str, object], target: Target
) -> None:
    """Check ``<action>:<attribute>`` for each attribute a request sets to something
    other than its default (so a client that sends ``shared: false`` is not refused)."""
    for name, value in attributes.items():
        if value not in (None, False, "", [], {}):
            enforce(ctx, f"{action}:{name}", target)
