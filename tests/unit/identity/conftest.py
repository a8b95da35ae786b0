"""A migrated identity database with a few users, projects and roles, and a token
provider on it (no HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from stratus.identity.models import (
    DOMAIN,
    GROUP,
    PROJECT,
    USER,
    Assignment,
    Domain,
    Group,
    Membership,
    Project,
    Role,
    User,
)
from stratus.identity.provider import TokenProvider
from stratus.runtime import migrations
from stratus.runtime.config import Config
from stratus.runtime.db import Database
from stratus.runtime.process import Runtime


@dataclass
class Directory:
    db: Database
    provider: TokenProvider
    user: User
    project: Project
    other_project: Project
    group: Group
    roles: dict[str, Role]

    def grant(self, role: str, *, actor: User | Group, target: Project | Domain) -> None:
        with self.db.session() as session:
            session.add(
                Assignment(
                    actor_type=USER if isinstance(actor, User) else GROUP,
                    actor_id=actor.id,
                    target_type=PROJECT if isinstance(target, Project) else DOMAIN,
                    target_id=target.id,
                    role_id=self.roles[role].id,
                )
            )


@pytest.fixture
def directory(conf: Config) -> Iterator[Directory]:
    runtime = Runtime(Config(conf.path, {"identity": {"password_hash_cost": 4}}))
    db = runtime.database("identity")
    migrations.upgrade("identity", db)
    with db.session() as session:
        session.add(Domain(id="default", name="Default"))
        roles = {name: Role(name=name) for name in ("admin", "member", "reader", "other")}
        user = User(name="alice", domain_id="default")
        project = Project(name="p", domain_id="default")
        other_project = Project(name="q", domain_id="default")
        group = Group(name="g", domain_id="default")
        _add(session, *roles.values(), user, project, other_project, group)
        session.add(Membership(group_id=group.id, user_id=user.id))
    directory = Directory(
        db, TokenProvider(runtime.conf, db), user, project, other_project, group, roles
    )
    directory.grant("member", actor=user, target=project)
    yield directory
    runtime.close()


def _add(session: Session, *rows: object) -> None:
    session.add_all(rows)
    session.flush()
