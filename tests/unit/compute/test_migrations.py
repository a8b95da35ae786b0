"""The compute tables: migrations match the models, and the default flavors."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from stratus.compute.flavors import DEFAULT_FLAVORS, create_default_flavors
from stratus.compute.models import Base, Flavor
from stratus.runtime import migrations
from stratus.runtime.process import Runtime


def test_migrations_match_models(runtime: Runtime) -> None:
    db = runtime.database("compute")
    migrations.upgrade("compute", db)
    migrations.upgrade("compute", db)  # idempotent
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"include_name": lambda name, kind, _: not (name or "").startswith("alembic")},
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_default_flavors_are_created_once(runtime: Runtime) -> None:
    assert create_default_flavors(runtime) == [name for name, *_ in DEFAULT_FLAVORS]
    assert create_default_flavors(runtime) == []
    with runtime.database("compute").session() as session:
        flavors = {f.name: f for f in session.query(Flavor)}
    assert (flavors["m1.nano"].memory_mb, flavors["m1.nano"].vcpus) == (64, 1)
    assert (flavors["m1.small"].memory_mb, flavors["m1.small"].root_gb) == (2048, 20)
    assert all(f.is_public for f in flavors.values())
