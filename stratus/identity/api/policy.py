"""Who may do what in the identity API.

The admin persona manages everything. Any other caller may see and change only what
is theirs: their own user, password, projects and application credentials, their own
tokens, and the catalog. A user or project a caller may not see is a 404, so that
ids cannot be probed; other denials are a 403. Services (the ``service`` role) may
validate anyone's token.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends

from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import NotFound
from stratus.runtime.api.policy import ADMIN, ANYONE, Check, Policy, any_of, owner, role

SELF: Check = any_of(ADMIN, lambda ctx, target: target.get("user_id") == ctx.user_id)

_ADMIN_ONLY = [
    *(f"{verb}_{thing}" for thing in ("domain", "project", "user", "group", "role", "region",
      "service", "endpoint") for verb in ("create", "update", "delete")),
    *(f"list_{things}" for things in ("domains", "projects", "users", "groups", "roles",
      "services", "endpoints", "users_in_group")),
    *(f"get_{thing}" for thing in ("group", "role", "service", "endpoint")),
    "add_user_to_group", "remove_user_from_group", "check_user_in_group",
    "create_grant", "check_grant", "list_grants", "revoke_grant",
]  # fmt: skip

POLICY = Policy(
    {
        **{f"identity:{action}": ADMIN for action in _ADMIN_ONLY},
        "identity:get_project": any_of(ADMIN, owner("project_id")),
        "identity:get_domain": any_of(
            ADMIN, lambda ctx, t: t.get("domain_id") in (ctx.domain_id, ctx.project_domain_id)
        ),
        "identity:get_user": SELF,
        "identity:change_password": SELF,
        "identity:list_user_projects": SELF,
        "identity:list_user_groups": SELF,
        "identity:list_role_assignments": SELF,
        "identity:create_application_credential": SELF,
        "identity:list_application_credentials": SELF,
        "identity:get_application_credential": SELF,
        "identity:delete_application_credential": SELF,
        "identity:validate_token": any_of(SELF, role("service")),
        "identity:revoke_token": SELF,
        "identity:list_regions": ANYONE,
        "identity:get_region": ANYONE,
        "identity:get_catalog": ANYONE,
    }
)


def enforce(ctx: RequestContext, action: str, **target: str | None) -> None:
    """A 403 unless the rule for ``identity:<action>`` allows it."""
    POLICY.enforce(ctx, f"identity:{action}", target)


def allowed(action: str) -> Callable[..., RequestContext]:
    """A dependency giving the caller's context once the rule for ``action`` allows it.
    Declared before the body, it refuses a caller before the body is even read. Async:
    the rule is checked in memory, no worker thread is needed for it."""

    async def dependency(ctx: RequestContext = Depends(authenticated)) -> RequestContext:
        enforce(ctx, action)
        return ctx

    return dependency


def enforce_visible(ctx: RequestContext, action: str, not_found: NotFound, **target: str) -> None:
    """Like :func:`enforce`, but a caller who is refused gets ``not_found``: for
    objects that belong to someone else."""
    if not POLICY.check(ctx, f"identity:{action}", target):
        raise not_found
