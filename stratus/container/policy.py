"""Who may do what to containers: project readers read, project members act, admins all.

Another project's container is a 404 before any rule runs (see :mod:`.service`)."""

from __future__ import annotations

from stratus.runtime.api.policy import ADMIN, PROJECT_MEMBER, PROJECT_READER, Check, Policy

DEFAULT_RULES: dict[str, Check] = {
    "container:create": PROJECT_MEMBER,
    "container:get": PROJECT_READER,
    "container:get_all": PROJECT_READER,
    "container:get_all_all_projects": ADMIN,
    "container:action": PROJECT_MEMBER,
    "container:read_action": PROJECT_READER,
    "container:execute": PROJECT_MEMBER,
    "container:commit": PROJECT_MEMBER,
    "container:actions": PROJECT_READER,
    "container:attach": PROJECT_MEMBER,
    "capsule:create": PROJECT_MEMBER,
    "capsule:get": PROJECT_READER,
    "capsule:get_all": PROJECT_READER,
    "capsule:delete": PROJECT_MEMBER,
    "container:host": ADMIN,  # naming a host, and seeing a container's host
    "host:get": ADMIN,
    "service:get": ADMIN,
    "availability_zone:get": PROJECT_READER,
    "quota:get": PROJECT_READER,
    "quota:update": ADMIN,
}


def default_policy() -> Policy:
    return Policy(DEFAULT_RULES)
