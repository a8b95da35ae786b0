"""The identity bootstrap: everything a new cloud needs, and safe to run again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from stratus.identity.bootstrap import CatalogEntry, bootstrap
from stratus.identity.models import (
    Assignment,
    Domain,
    Endpoint,
    Project,
    Region,
    Role,
    Service,
    User,
)
from stratus.identity.passwords import verify_password
from stratus.runtime.config import Config
from stratus.runtime.process import Runtime

CATALOG = [
    CatalogEntry("identity", "keystone", "http://10.0.0.1:5000/v3"),
    CatalogEntry("image", "glance", "http://10.0.0.1:9292"),
]


@pytest.fixture
def runtime(conf: Config) -> Iterator[Runtime]:
    rt = Runtime(Config(conf.path, {"identity": {"password_hash_cost": 4}}))
    yield rt
    rt.close()


def run(runtime: Runtime, **changes: Any) -> None:
    arguments: dict[str, Any] = {
        "admin_password": "a",
        "demo_password": "d",
        "service_passwords": {"glance": "g"},
        "endpoints": CATALOG,
        "region": "RegionOne",
    }
    arguments.update(changes)
    bootstrap(runtime, **arguments)


def counts(runtime: Runtime) -> dict[str, int]:
    with runtime.database("identity").session() as session:
        return {
            model.__tablename__: session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Domain, Project, User, Role, Assignment, Region, Service, Endpoint)
        }


def password_of(runtime: Runtime, name: str) -> str | None:
    with runtime.database("identity").session() as session:
        return session.scalar(sa.select(User.password_hash).where(User.name == name))


def test_creates_what_a_cloud_needs(runtime: Runtime) -> None:
    run(runtime)
    with runtime.database("identity").session() as session:
        assert session.get(Domain, "default").name == "Default"
        assert set(session.scalars(sa.select(Role.name))) == {
            "admin",
            "member",
            "reader",
            "service",
        }
        assert set(session.scalars(sa.select(Project.name))) == {"admin", "demo", "service"}
        assert set(session.scalars(sa.select(User.name))) == {"admin", "demo", "glance"}
        assert session.get(Region, "RegionOne") is not None
        endpoints = session.execute(
            sa.select(Service.type, Endpoint.interface, Endpoint.url).join(Service)
        ).all()
    assert len(endpoints) == 6
    assert ("image", "internal", "http://10.0.0.1:9292") in endpoints
    assert counts(runtime)["identity_assignments"] == 5


def test_is_idempotent(runtime: Runtime) -> None:
    run(runtime)
    before = counts(runtime)
    run(runtime)
    assert counts(runtime) == before


def test_keeps_user_passwords_unless_asked(runtime: Runtime) -> None:
    run(runtime)
    run(runtime, admin_password="changed", demo_password="changed")
    assert verify_password("a", password_of(runtime, "admin"), 4)
    assert verify_password("d", password_of(runtime, "demo"), 4)
    run(runtime, admin_password="changed", reset_passwords=True)
    assert verify_password("changed", password_of(runtime, "admin"), 4)


def test_service_passwords_follow_the_config(runtime: Runtime) -> None:
    run(runtime)
    run(runtime, service_passwords={"glance": "new", "nova": "n"})
    assert verify_password("new", password_of(runtime, "glance"), 4)
    assert verify_password("n", password_of(runtime, "nova"), 4)


def test_endpoint_urls_are_updated_and_nothing_removed(runtime: Runtime) -> None:
    run(runtime)
    with runtime.database("identity").session() as session:
        extra = Service(type="compute", name="nova")
        session.add(extra)
        session.flush()
        session.add(
            Endpoint(service_id=extra.id, interface="public", url="http://x", region_id=None)
        )
    moved = [CatalogEntry("image", "glance", "http://10.0.0.2:9292")]
    run(runtime, endpoints=moved)
    with runtime.database("identity").session() as session:
        urls = set(session.scalars(sa.select(Endpoint.url)))
    assert urls == {"http://10.0.0.1:5000/v3", "http://10.0.0.2:9292", "http://x"}
