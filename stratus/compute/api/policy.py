"""Who may do what in the compute API: Nova's default rules with the admin, member and
reader personas. Targets carry the resource's ``project_id`` (and ``user_id`` for key
pairs). What a caller may not see (another project's server) is a 404 before any rule."""

from __future__ import annotations

from stratus.runtime.api.policy import (
    ADMIN,
    ANYONE,
    PROJECT_MEMBER,
    PROJECT_READER,
    Check,
    Policy,
    any_of,
    role,
)

OWN_USER: Check = lambda ctx, target: target.get("user_id") == ctx.user_id  # noqa: E731
ADMIN_OR_OWN_USER: Check = any_of(ADMIN, OWN_USER)

DEFAULT_RULES: dict[str, Check] = {
    "flavors:list": ANYONE,
    "flavors:manage": ADMIN,
    "flavors:extra_specs:read": ANYONE,
    "flavors:access": ADMIN,
    "keypairs:own": ADMIN_OR_OWN_USER,
    "keypairs:other_users": ADMIN,
    "server_groups:read": PROJECT_READER,
    "server_groups:write": PROJECT_MEMBER,
    "server_groups:all_projects": ADMIN,
    "availability_zones:list": ANYONE,
    "availability_zones:detail": ADMIN,
    "aggregates": ADMIN,
    "hypervisors": ADMIN,
    "services": ADMIN,
    "quotas:show": PROJECT_READER,
    "quotas:defaults": ANYONE,
    "quotas:update": ADMIN,
    "limits:other_projects": ADMIN,
    "servers:read": PROJECT_READER,
    "servers:write": PROJECT_MEMBER,
    "servers:all_projects": ADMIN,
    "servers:admin_attributes": ADMIN,
    "servers:host_status": ADMIN,
    "servers:fault_details": ADMIN,
    "servers:requested_destination": ADMIN,
    "servers:locked_override": ADMIN,
    "servers:force_delete": PROJECT_MEMBER,
    "network:attach_external_network": ADMIN,
    "instance_actions:events_details": ADMIN,
    "server_external_events:create": any_of(ADMIN, role("service")),
}


def default_policy() -> Policy:
    return Policy(DEFAULT_RULES)
