from collections.abc import Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa
from starlette.datastructures import QueryParams

from stratus.image.api.filters import conditions, page
from stratus.image.models import Image, ImageMember, ImageProperty, ImageTag
from stratus.runtime import migrations
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest
from stratus.runtime.db import Database
from stratus.runtime.process import Runtime

T0 = datetime(2030, 1, 2, 3, 4, 5, 500_000)


def context(project: str | None, *roles: str) -> RequestContext:
    return RequestContext(
        user_id="u",
        user_name="u",
        user_domain_id="default",
        roles=frozenset(roles),
        project_id=project,
    )


ADMIN = context("pa", "admin", "member", "reader")
ALICE = context("p1", "member", "reader")
BOB = context("p2", "member", "reader")
UNSCOPED = context(None, "reader")


@pytest.fixture
def db(runtime: Runtime) -> Iterator[Database]:
    database = runtime.database("image")
    migrations.upgrade("image", database)
    with database.session() as session:
        for name, owner, visibility in (
            ("pa-public", "pa", "public"),
            ("pa-private", "pa", "private"),
            ("p1-private", "p1", "private"),
            ("p1-shared", "p1", "shared"),
            ("p1-community", "p1", "community"),
            ("p2-shared-accepted", "p2", "shared"),
            ("p2-shared-pending", "p2", "shared"),
            ("p2-shared-rejected", "p2", "shared"),
            ("p2-community", "p2", "community"),
        ):
            session.add(
                Image(
                    id=name,
                    name=name,
                    owner=owner,
                    visibility=visibility,
                    status="queued",
                    created_at=T0,
                )
            )
        session.flush()
        for name in ("accepted", "pending", "rejected"):
            session.add(ImageMember(image_id=f"p2-shared-{name}", member="p1", status=name))
        session.add(ImageTag(image_id="p1-private", value="x"))
        session.add(ImageTag(image_id="p1-private", value="y"))
        session.add(ImageTag(image_id="p1-shared", value="x"))
        session.add(ImageProperty(image_id="p1-shared", name="os_distro", value="debian"))
        session.add(ImageProperty(image_id="p1-shared", name="os.type", value="linux"))
        session.add(
            Image(
                id="hidden",
                name="hidden",
                owner="pa",
                visibility="public",
                status="active",
                os_hidden=True,
                created_at=T0,
            )
        )
    yield database


def names(db: Database, ctx: RequestContext, query: str = "") -> set[str]:
    where = conditions(QueryParams(query), ctx)
    with db.session() as session:
        return set(session.scalars(sa.select(Image.name).where(*where)))


def test_default_listing(db: Database) -> None:
    assert names(db, ALICE) == {
        "pa-public",
        "p1-private",
        "p1-shared",
        "p1-community",
        "p2-shared-accepted",
    }
    assert names(db, BOB) == {
        "pa-public",
        "p2-shared-accepted",
        "p2-shared-pending",
        "p2-shared-rejected",
        "p2-community",
    }
    assert names(db, UNSCOPED) == {"pa-public"}
    assert names(db, ADMIN) == {
        "pa-public",
        "pa-private",
        "p1-private",
        "p1-shared",
        "p2-shared-accepted",
        "p2-shared-pending",
        "p2-shared-rejected",
    }


def test_member_status_picks_shared_images(db: Database) -> None:
    shared = "visibility=shared&member_status="
    assert names(db, ALICE, shared + "pending") == {"p1-shared", "p2-shared-pending"}
    assert names(db, ALICE, shared + "all") == {
        "p1-shared",
        "p2-shared-accepted",
        "p2-shared-pending",
        "p2-shared-rejected",
    }
    assert names(db, ALICE, "member_status=rejected") == {
        "pa-public",
        "p1-private",
        "p1-shared",
        "p1-community",
        "p2-shared-rejected",
    }


def test_community_and_all(db: Database) -> None:
    assert names(db, ALICE, "visibility=community") == {"p1-community", "p2-community"}
    assert names(db, UNSCOPED, "visibility=community") == {"p1-community", "p2-community"}
    assert len(names(db, ADMIN, "visibility=all")) == 9
    assert "p2-community" in names(db, ALICE, "visibility=all")
    assert "p2-shared-pending" not in names(db, ALICE, "visibility=all")


def test_hidden_images_only_when_asked(db: Database) -> None:
    assert "hidden" not in names(db, ADMIN)
    assert names(db, ADMIN, "os_hidden=true") == {"hidden"}
    assert names(db, ALICE, "os_hidden=TRUE") == {"hidden"}


def test_tags_properties_and_lists(db: Database) -> None:
    assert names(db, ALICE, "tag=x") == {"p1-private", "p1-shared"}
    assert names(db, ALICE, "tag=x&tag=y") == {"p1-private"}
    assert names(db, ALICE, "os_distro=debian") == {"p1-shared"}
    assert names(db, ALICE, "os.type=linux&os_distro=debian") == {"p1-shared"}
    assert names(db, ALICE, "os_distro=fedora") == set()
    assert names(db, ALICE, "name=in:p1-private,%22p1-shared%22,nothing") == {
        "p1-private",
        "p1-shared",
    }
    assert names(db, ALICE, "id=in:pa-public") == {"pa-public"}
    assert names(db, ALICE, "name=in:%22a,b%22") == set()
    assert names(db, ADMIN, "owner=p1") == {"p1-private", "p1-shared"}


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        ("created_at=2030-01-02T03:04:05Z", True),
        ("created_at=eq:2030-01-02T03:04:05Z", True),
        ("created_at=neq:2030-01-02T03:04:05Z", False),
        ("created_at=gt:2030-01-02T03:04:05Z", False),
        ("created_at=gte:2030-01-02T03:04:05Z", True),
        ("created_at=lt:2030-01-02T03:04:05Z", False),
        ("created_at=lte:2030-01-02T03:04:05Z", True),
        ("created_at=gt:2030-01-02T03:04:04Z", True),
        ("created_at=lt:2030-01-02T03:04:06Z", True),
        ("created_at=lt:2030-01-02T05:04:06%2B02:00", True),
        ("created_at=gte:2030-01-02T03:04:06", False),
    ],
)
def test_time_filters_compare_whole_seconds(db: Database, query: str, matches: bool) -> None:
    assert ("pa-public" in names(db, ADMIN, query)) is matches


@pytest.mark.parametrize(
    "query",
    [
        "visibility=nobody",
        "member_status=any",
        "protected=maybe",
        "size_min=-1",
        "size_max=1.5",
        "status=in:queued,lost",
        "created_at=soon",
        "updated_at=after:2030-01-01",
    ],
)
def test_bad_filters(query: str) -> None:
    with pytest.raises(BadRequest):
        conditions(QueryParams(query), ALICE)


def test_paging_parameters() -> None:
    default = page(QueryParams(""), default_limit=25, max_limit=1000)
    assert default.limit == 25 and default.marker is None
    assert default.sort == (("created_at", "desc"), ("id", "desc"))
    assert page(QueryParams("limit=5000"), 25, 1000).limit == 1000
    assert page(QueryParams("limit=0"), 25, 1000).limit == 0
    assert page(QueryParams("sort_dir=asc"), 25, 1000).sort == (("created_at", "asc"),)
    assert page(QueryParams("sort=name,size:asc"), 25, 1000).sort == (
        ("name", "desc"),
        ("size", "asc"),
    )
    for bad in ("sort=name&sort_key=name", "sort=name&sort_dir=asc", "sort_key=owner", "limit=-3"):
        with pytest.raises(BadRequest):
            page(QueryParams(bad), 25, 1000)
