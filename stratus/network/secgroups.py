"""Security groups: every new group lets its members send anything, and each project
has a ``default`` group, made on first use, that also lets in what its members send."""

from __future__ import annotations

from sqlalchemy.orm import Session

from stratus.network import models
from stratus.runtime.db import new_id

ETHERTYPES = ("IPv4", "IPv6")
DEFAULT_NAME = "default"


def create_group(
    session: Session, project_id: str, name: str, description: str = "", stateful: bool = True
) -> models.SecurityGroup:
    group = models.SecurityGroup(
        id=new_id(), project_id=project_id, name=name, description=description, stateful=stateful
    )
    session.add(group)
    for ethertype in ETHERTYPES:
        group.rules.append(_rule(group, "egress", ethertype))
    return group


def ensure_default(session: Session, project_id: str) -> str:
    """The id of the project's default group, created now if it has none (a concurrent
    creator makes this transaction fail on the project's key, and run again to find it)."""
    known = session.get(models.DefaultSecurityGroup, project_id)
    if known is not None:
        return known.security_group_id
    group = create_group(session, project_id, DEFAULT_NAME, "Default security group")
    for ethertype in ETHERTYPES:
        group.rules.append(_rule(group, "ingress", ethertype, remote_group_id=group.id))
    session.flush()
    session.add(models.DefaultSecurityGroup(project_id=project_id, security_group_id=group.id))
    session.flush()
    return group.id


def is_default(session: Session, group: models.SecurityGroup) -> bool:
    known = session.get(models.DefaultSecurityGroup, group.project_id)
    return known is not None and known.security_group_id == group.id


def _rule(
    group: models.SecurityGroup, direction: str, ethertype: str, remote_group_id: str | None = None
) -> models.SecurityGroupRule:
    return models.SecurityGroupRule(
        id=new_id(),
        project_id=group.project_id,
        direction=direction,
        ethertype=ethertype,
        remote_group_id=remote_group_id,
    )
