"""Who is asking: the request context built from a validated Keystone v3 token."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The default personas: each role implies the ones after it.
ROLE_IMPLICATIONS = {"admin": ("member", "reader"), "member": ("reader",)}


@dataclass(frozen=True)
class RequestContext:
    user_id: str
    user_name: str
    user_domain_id: str
    roles: frozenset[str]
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None
    token: str = ""
    audit_ids: tuple[str, ...] = ()
    expires_at: str = ""
    application_credential_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        """The cloud administrator persona: the admin role on any scope."""
        return "admin" in self.roles

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @classmethod
    def from_token(cls, token: dict[str, Any], token_id: str = "") -> RequestContext:
        """Build from the body of ``GET /v3/auth/tokens`` (the ``token`` object)."""
        roles: set[str] = set()
        for role in token.get("roles", []):
            roles.add(role["name"])
            roles.update(ROLE_IMPLICATIONS.get(role["name"], ()))
        user = token["user"]
        project = token.get("project") or {}
        domain = token.get("domain") or {}
        app_cred = token.get("application_credential") or {}
        return cls(
            user_id=user["id"],
            user_name=user.get("name", ""),
            user_domain_id=(user.get("domain") or {}).get("id", ""),
            roles=frozenset(roles),
            project_id=project.get("id"),
            project_name=project.get("name"),
            project_domain_id=(project.get("domain") or {}).get("id"),
            domain_id=domain.get("id"),
            token=token_id,
            audit_ids=tuple(token.get("audit_ids", ())),
            expires_at=token.get("expires_at", ""),
            application_credential_id=app_cred.get("id"),
        )
