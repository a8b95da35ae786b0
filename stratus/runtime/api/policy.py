"""Authorization with the default OpenStack personas: admin, project member, project reader.

A rule is a predicate over the caller's context and the target's attributes. What a
caller may not even see is a 404 at the service (it filters by project); a policy
failure on something visible is a 403.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import Forbidden

Target = Mapping[str, Any]
Check = Callable[[RequestContext, Target], bool]


def role(name: str) -> Check:
    return lambda ctx, target: ctx.has_role(name)


def owner(key: str = "project_id") -> Check:
    """The target belongs to the caller's project."""
    return lambda ctx, target: ctx.project_id is not None and target.get(key) == ctx.project_id


def any_of(*checks: Check) -> Check:
    return lambda ctx, target: any(check(ctx, target) for check in checks)


def all_of(*checks: Check) -> Check:
    return lambda ctx, target: all(check(ctx, target) for check in checks)


ADMIN: Check = role("admin")
ANYONE: Check = lambda ctx, target: True  # noqa: E731 - any authenticated caller
PROJECT_READER: Check = any_of(ADMIN, all_of(role("reader"), owner()))
PROJECT_MEMBER: Check = any_of(ADMIN, all_of(role("member"), owner()))


class Policy:
    """Named rules of one service."""

    def __init__(self, rules: Mapping[str, Check]) -> None:
        self.rules = dict(rules)

    def check(self, ctx: RequestContext, action: str, target: Target | None = None) -> bool:
        rule = self.rules.get(action)
        if rule is None:
            raise KeyError(f"no policy rule named {action!r}")
        return rule(ctx, target or {})

    def enforce(self, ctx: RequestContext, action: str, target: Target | None = None) -> None:
        if not self.check(ctx, action, target):
            raise Forbidden(f"Policy does not allow {action} to be performed.")
