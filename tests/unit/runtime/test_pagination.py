import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.datastructures import QueryParams

from stratus.runtime.api.errors import BadRequest
from stratus.runtime.api.pagination import Page, page_params, paginate
from stratus.runtime.db import Database


class Base(DeclarativeBase):
    pass


class Thing(Base):
    __tablename__ = "test_things"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column(sa.Integer)


@pytest.fixture
def db(tmp_path):  # type: ignore[no-untyped-def]
    database = Database(f"sqlite:///{tmp_path / 'p.sqlite'}")
    Base.metadata.create_all(database.engine)
    with database.session() as session:
        for i in range(10):
            name = None if i in (3, 7) else f"n{i % 4}"
            session.add(Thing(id=f"id{i:02d}", name=name, size=i * 10))
    yield database
    database.dispose()


def params(query: str) -> Page:
    return page_params(
        QueryParams(query),
        sort_keys=["name", "size", "id"],
        default_sort=[("size", "asc")],
        max_limit=50,
    )


def walk(db: Database, query: str) -> list[str]:
    """Every id, page by page, following next markers."""
    seen: list[str] = []
    marker = None
    while True:
        page = params(query + (f"&marker={marker}" if marker else ""))
        with db.session() as session:
            rows, marker = paginate(session, sa.select(Thing), Thing, page)
        seen.extend(row.id for row in rows)
        if marker is None:
            return seen


@pytest.mark.parametrize(
    "sort",
    ["", "&sort_key=name&sort_dir=desc", "&sort_key=name", "&sort_key=name,size&sort_dir=asc,desc"],
)
@pytest.mark.parametrize("limit", [1, 3, 4, 100])
def test_paging_visits_every_row_once_in_order(db: Database, sort: str, limit: int) -> None:
    full = params("limit=100" + sort)
    with db.session() as session:
        expected, marker = paginate(session, sa.select(Thing), Thing, full)
    assert marker is None and len(expected) == 10
    assert walk(db, f"limit={limit}{sort}") == [row.id for row in expected]


def test_nulls_sort_lowest(db: Database) -> None:
    with db.session() as session:
        rows, _ = paginate(session, sa.select(Thing), Thing, params("sort_key=name&sort_dir=asc"))
    assert [r.name for r in rows[:2]] == [None, None]


def test_limit_is_capped_and_zero_allowed() -> None:
    assert params("limit=500").limit == 50
    assert params("limit=0").limit == 0
    assert params("").limit == 50


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=-1", "zero or a positive"),
        ("limit=abc", "must be an integer"),
        ("sort_key=colour", "Sort key 'colour' is not supported"),
        ("sort_key=name&sort_dir=up", "Sort direction 'up'"),
        ("sort_key=name&sort_dir=asc,desc", "more sort_dir values"),
    ],
)
def test_bad_paging_parameters_are_400(query: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        params(query)


def test_unknown_marker_is_400(db: Database) -> None:
    with db.session() as session, pytest.raises(BadRequest, match="Marker nope"):
        paginate(session, sa.select(Thing), Thing, params("marker=nope"))


def test_glance_style_sort_parameter() -> None:
    page = page_params(
        QueryParams("sort=name:asc,size"),
        sort_keys=["name", "size"],
        default_sort=[("size", "asc")],
        sort_param="sort",
    )
    assert page.sort == (("name", "asc"), ("size", "desc"))
