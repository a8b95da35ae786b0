import pytest
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient
from starlette.datastructures import Headers

from stratus.runtime.api.app import create_app
from stratus.runtime.api.errors import BadRequest, NotAcceptable, render_nova
from stratus.runtime.api.microversion import APIVersion, Microversions

NOVA = Microversions("compute", "2.1", "2.90", "/v2.1", "X-OpenStack-Nova-API-Version")


def negotiate(**headers: str) -> APIVersion:
    return NOVA.negotiate(Headers(headers))


def test_no_header_means_the_minimum() -> None:
    assert negotiate() == APIVersion(2, 1)


def test_latest_means_the_maximum() -> None:
    assert negotiate(**{"OpenStack-API-Version": "compute latest"}) == APIVersion(2, 90)


def test_other_services_versions_are_ignored() -> None:
    header = {"OpenStack-API-Version": "volume 3.5, compute 2.47"}
    assert negotiate(**header) == APIVersion(2, 47)


def test_legacy_header_is_honoured() -> None:
    assert negotiate(**{"X-OpenStack-Nova-API-Version": "2.10"}) == APIVersion(2, 10)


def test_versions_compare_numerically() -> None:
    assert APIVersion.parse("2.10") > APIVersion.parse("2.9")
    assert APIVersion.parse("2.47").matches("2.47") and not APIVersion.parse("2.46").matches("2.47")


@pytest.mark.parametrize("value", ["compute 3.0", "compute 2.0", "compute 2.91"])
def test_out_of_range_is_406(value: str) -> None:
    with pytest.raises(NotAcceptable, match="Minimum is 2.1 and maximum is 2.90"):
        negotiate(**{"OpenStack-API-Version": value})


@pytest.mark.parametrize("value", ["compute two", "compute 2.01", "compute 2"])
def test_malformed_version_is_400(value: str) -> None:
    with pytest.raises(BadRequest):
        negotiate(**{"OpenStack-API-Version": value})


def test_the_app_echoes_the_negotiated_version() -> None:
    router = APIRouter()

    @router.get("/v2.1/servers")
    def servers(request: Request) -> dict[str, str]:
        return {"version": str(request.state.api_version)}

    spec = Microversions("container", "1.1", "1.40", "/v2.1", echo_range=True)
    client = TestClient(
        create_app(title="t", routers=[router], render_error=render_nova, microversions=spec)
    )
    response = client.get("/v2.1/servers", headers={"OpenStack-API-Version": "container 1.12"})
    assert response.json() == {"version": "1.12"}
    assert response.headers["openstack-api-version"] == "container 1.12"
    assert response.headers["openstack-api-minimum-version"] == "container 1.1"
    assert response.headers["openstack-api-maximum-version"] == "container 1.40"
    refused = client.get("/v2.1/servers", headers={"OpenStack-API-Version": "container 1.41"})
    assert refused.status_code == 406
    assert "maximum is 1.40" in refused.json()["notAcceptable"]["message"]
    assert refused.headers["openstack-api-maximum-version"] == "container 1.40"
