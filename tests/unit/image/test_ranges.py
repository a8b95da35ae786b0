import pytest

from stratus.image.api.data import byte_range
from stratus.runtime.api.errors import ApiError


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-0", (0, 0)),
        ("bytes=0-99", (0, 99)),
        ("bytes=10-", (10, 99)),
        ("bytes=90-500", (90, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-500", (0, 99)),
        (" BYTES = 5-6", (5, 6)),
        ("bytes=1-2,5-6", None),
        ("bytes=7-3", None),
        ("bytes=x-3", None),
        ("bytes=-", None),
        ("bytes=5", None),
        ("items=1-2", None),
        ("bytes=+1-2", None),
    ],
)
def test_byte_ranges(header: str | None, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=150-200", "bytes=-0"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(ApiError) as caught:
        byte_range(header, 100)
    assert caught.value.status == 416
    assert caught.value.headers == {"Content-Range": "bytes */100"}
