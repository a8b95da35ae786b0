from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from stratus.image.models import Base
from stratus.runtime import migrations
from stratus.runtime.process import Runtime


def test_migrations_create_exactly_the_models_tables(runtime: Runtime) -> None:
    db = runtime.database("image")
    migrations.upgrade("image", db)
    migrations.upgrade("image", db)  # idempotent
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in differences if d[0] != "remove_table"] == []
    assert {d[1].name for d in differences} == {"alembic_version_image"}
