"""What a new cloud needs in the identity service, made so on every run.

Creates what is missing and touches nothing else: the default domain; the admin,
member, reader and service roles; the admin, demo and service projects; the admin and
demo users (their passwords kept once they exist, unless asked to reset them); one user
per service with the given password; the region; and each service's catalog entry with
public, internal and admin endpoints (their URL updated when it changed).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.identity import options  # noqa: F401 - declares the [identity] options
from stratus.identity.models import (
    DOMAIN,
    PROJECT,
    USER,
    Assignment,
    Domain,
    Endpoint,
    Project,
    Region,
    Role,
    Service,
    User,
)
from stratus.identity.passwords import hash_password, verify_password
from stratus.runtime import migrations
from stratus.runtime.process import Runtime

DEFAULT_DOMAIN_ID = "default"
ROLES = ("admin", "member", "reader", "service")
INTERFACES = ("public", "internal", "admin")


@dataclass(frozen=True)
class CatalogEntry:
    service_type: str  # "image"
    name: str  # "glance"
    url: str  # "http://10.0.0.5:9292"


def bootstrap(
    runtime: Runtime,
    *,
    admin_password: str,
    demo_password: str,
    service_passwords: dict[str, str],
    endpoints: list[CatalogEntry],
    region: str,
    reset_passwords: bool = False,
) -> str:
    """Make the identity service hold what a new cloud needs (safe to run every time);
    returns the admin project's id (other services' bootstrap resources belong to it).

    ``service_passwords`` maps each service user's name to its password, which is set
    every time; the admin and demo passwords are set only when those users are created,
    or when ``reset_passwords`` asks.
    """
    db = runtime.database("identity")
    migrations.upgrade("identity", db)
    cost = runtime.conf.identity.password_hash_cost
    with db.session() as session:
        if session.get(Domain, DEFAULT_DOMAIN_ID) is None:
            session.add(Domain(id=DEFAULT_DOMAIN_ID, name="Default", description="The default"))
            session.flush()
        roles = {name: _role(session, name) for name in ROLES}
        projects = {name: _project(session, name) for name in ("admin", "demo", "service")}
        admin = _user(session, "admin", admin_password, cost, reset=reset_passwords)
        _grant(session, admin, roles["admin"], PROJECT, projects["admin"].id)
        _grant(session, admin, roles["admin"], DOMAIN, DEFAULT_DOMAIN_ID)
        demo = _user(session, "demo", demo_password, cost, reset=reset_passwords)
        _grant(session, demo, roles["member"], PROJECT, projects["demo"].id)
        for name, password in service_passwords.items():
            user = _user(session, name, password, cost, reset=True)
            for role in ("admin", "service"):
                _grant(session, user, roles[role], PROJECT, projects["service"].id)
        if session.get(Region, region) is None:
            session.add(Region(id=region, description=""))
            session.flush()
        for entry in endpoints:
            _catalog_entry(session, entry, region)
        return projects["admin"].id


def _role(session: Session, name: str) -> Role:
    role = session.scalar(sa.select(Role).where(Role.name == name))
    if role is None:
        role = Role(name=name)
        session.add(role)
        session.flush()
    return role


def _project(session: Session, name: str) -> Project:
    stmt = sa.select(Project).where(Project.domain_id == DEFAULT_DOMAIN_ID, Project.name == name)
    project = session.scalar(stmt)
    if project is None:
        project = Project(name=name, domain_id=DEFAULT_DOMAIN_ID, description=f"The {name} project")
        session.add(project)
        session.flush()
    return project


def _user(session: Session, name: str, password: str, cost: int, *, reset: bool) -> User:
    stmt = sa.select(User).where(User.domain_id == DEFAULT_DOMAIN_ID, User.name == name)
    user = session.scalar(stmt)
    if user is None:
        user = User(name=name, domain_id=DEFAULT_DOMAIN_ID)
        session.add(user)
    elif not reset or verify_password(password, user.password_hash, cost):
        return user
    user.password_hash = hash_password(password, cost)
    session.flush()
    return user


def _grant(session: Session, user: User, role: Role, target_type: str, target_id: str) -> None:
    key = (USER, user.id, target_type, target_id, role.id)
    if session.get(Assignment, key) is None:
        session.add(
            Assignment(
                actor_type=USER,
                actor_id=user.id,
                target_type=target_type,
                target_id=target_id,
                role_id=role.id,
            )
        )
        session.flush()


def _catalog_entry(session: Session, entry: CatalogEntry, region: str) -> None:
    service = session.scalar(
        sa.select(Service).where(Service.type == entry.service_type).order_by(Service.id)
    )
    if service is None:
        service = Service(type=entry.service_type, name=entry.name)
        session.add(service)
        session.flush()
    for interface in INTERFACES:
        stmt = sa.select(Endpoint).where(
            Endpoint.service_id == service.id,
            Endpoint.interface == interface,
            Endpoint.region_id == region,
        )
        endpoint = session.scalar(stmt.order_by(Endpoint.id))
        if endpoint is None:
            session.add(
                Endpoint(
                    service_id=service.id, interface=interface, region_id=region, url=entry.url
                )
            )
        elif endpoint.url != entry.url:
            endpoint.url = entry.url
    session.flush()
