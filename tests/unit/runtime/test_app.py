import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field

from stratus.runtime.api import errors
from stratus.runtime.api.app import create_app
from stratus.runtime.api.validation import MAX_BODY_BYTES, json_body


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=8)
    size: int = 0


def make_client(renderer: errors.ErrorRenderer) -> TestClient:
    router = APIRouter()

    @router.post("/things", status_code=201)
    def create(body: Thing = Depends(json_body(Thing))) -> dict[str, object]:
        return body.model_dump()

    @router.get("/things/{thing_id}")
    def show(thing_id: str) -> None:
        raise errors.NotFound(f"Thing {thing_id} could not be found.", error_type="ThingNotFound")

    @router.get("/broken")
    def broken() -> None:
        raise ZeroDivisionError("a bug")

    app = create_app(
        title="t", routers=[router], render_error=renderer, request_id_header="x-compute-request-id"
    )
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client() -> TestClient:
    return make_client(errors.render_keystone)


def message(response) -> str:  # type: ignore[no-untyped-def]
    return response.json()["error"]["message"]


def test_valid_body_passes(client: TestClient) -> None:
    response = client.post("/things", json={"name": "a", "size": 2})
    assert response.status_code == 201 and response.json() == {"name": "a", "size": 2}


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    first = client.get("/healthcheck")
    second = client.get("/things/x")
    assert first.headers["x-openstack-request-id"].startswith("req-")
    assert first.headers["x-openstack-request-id"] != second.headers["x-openstack-request-id"]
    assert second.headers["x-compute-request-id"] == second.headers["x-openstack-request-id"]


@pytest.mark.parametrize(
    ("kwargs", "status", "fragment"),
    [
        ({"content": b"{", "headers": {"content-type": "application/json"}}, 400, "Malformed JSON"),
        ({"json": {"name": 5}}, 400, "'name' Input should be a valid string"),
        ({"json": {"name": "a", "colour": "red"}}, 400, "'colour' is not an allowed field"),
        ({"json": {}}, 400, "'name' is required"),
        ({"json": {"name": "x" * 9}}, 400, "at most 8 characters"),
        ({"json": {"name": "a", "size": "big"}}, 400, "'size'"),
        ({"content": b"name=a", "headers": {"content-type": "text/plain"}}, 415, "text/plain"),
        ({"content": b"{}"}, 415, "(none)"),
        (
            {
                "content": b" " * (MAX_BODY_BYTES + 1),
                "headers": {"content-type": "application/json"},
            },
            413,
            "larger than",
        ),
    ],
)
def test_bad_bodies_get_a_4xx_that_says_why(client: TestClient, kwargs, status, fragment) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/things", **kwargs)
    assert response.status_code == status
    assert fragment in message(response)
    assert response.json()["error"]["code"] == status


def test_unknown_paths_and_methods_are_shaped_errors(client: TestClient) -> None:
    assert client.get("/nowhere").status_code == 404
    assert "could not be found" in message(client.get("/nowhere"))
    assert client.delete("/things").status_code == 405


def test_a_bug_is_a_shaped_500_not_a_traceback(client: TestClient) -> None:
    response = client.get("/broken")
    assert response.status_code == 500
    assert "a bug" not in response.text and "unexpected error" in message(response)


@pytest.mark.parametrize(
    ("renderer", "extract"),
    [
        (errors.render_nova, lambda body: body["itemNotFound"]["message"]),
        (errors.render_neutron, lambda body: body["NeutronError"]["message"]),
        (errors.render_zun, lambda body: body["errors"][0]["detail"]),
    ],
)
def test_each_service_style_carries_the_message(renderer, extract) -> None:  # type: ignore[no-untyped-def]
    body = make_client(renderer).get("/things/t1").json()
    assert extract(body) == "Thing t1 could not be found."


def test_neutron_style_names_the_error_type() -> None:
    body = make_client(errors.render_neutron).get("/things/t1").json()
    assert body["NeutronError"]["type"] == "ThingNotFound"


def test_openapi_documents_the_validated_bodies(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    body = document["paths"]["/things"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/Thing")
    thing = document["components"]["schemas"]["Thing"]
    assert thing["properties"]["name"]["maxLength"] == 8
    assert "/healthcheck" not in document["paths"]
