import pytest

from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import Forbidden
from stratus.runtime.api.policy import ADMIN, PROJECT_MEMBER, PROJECT_READER, Policy


def context(*roles: str, project: str = "p1") -> RequestContext:
    token = {
        "user": {"id": "u1", "name": "u", "domain": {"id": "default"}},
        "project": {"id": project, "name": "p", "domain": {"id": "default"}},
        "roles": [{"id": r, "name": r} for r in roles],
    }
    return RequestContext.from_token(token)


POLICY = Policy(
    {"thing:show": PROJECT_READER, "thing:update": PROJECT_MEMBER, "thing:purge": ADMIN}
)


def test_roles_imply_the_lesser_personas() -> None:
    assert context("admin").roles == {"admin", "member", "reader"}
    assert context("member").roles == {"member", "reader"}
    assert context("reader").roles == {"reader"}


@pytest.mark.parametrize(
    ("roles", "project", "action", "allowed"),
    [
        (("reader",), "p1", "thing:show", True),
        (("reader",), "p1", "thing:update", False),
        (("member",), "p1", "thing:update", True),
        (("member",), "p2", "thing:update", False),
        (("member",), "p2", "thing:show", False),
        (("member",), "p1", "thing:purge", False),
        (("admin",), "p2", "thing:purge", True),
        (("admin",), "p2", "thing:update", True),
        ((), "p1", "thing:show", False),
    ],
)
def test_personas(roles, project, action, allowed) -> None:  # type: ignore[no-untyped-def]
    assert POLICY.check(context(*roles, project=project), action, {"project_id": "p1"}) is allowed


def test_enforce_raises_forbidden_naming_the_action() -> None:
    with pytest.raises(Forbidden, match="thing:purge"):
        POLICY.enforce(context("member"), "thing:purge")


def test_unknown_rule_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        POLICY.check(context("admin"), "thing:nothing")
