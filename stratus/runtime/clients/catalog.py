"""Finding and calling the other services' APIs, as the calling service's own user or on
behalf of the caller (principle 4: services meet at their APIs).

Endpoints come from the identity catalog (``GET /v3/auth/catalog`` with the service
token), the internal interface of this region first.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from stratus.runtime.api.errors import ServiceUnavailable
from stratus.runtime.http import new_client
from stratus.runtime.identity_client import IdentityClient

INTERFACES = ("internal", "public", "admin")


class ServiceNotInCatalog(ServiceUnavailable):
    """The cloud does not run the service (no endpoint in the catalog)."""


class ServiceClient:
    """Requests to one service type's API, authenticated as the service or as a caller."""

    def __init__(
        self,
        identity: IdentityClient,
        service_type: str,
        region: str,
        http: httpx.Client | None = None,
    ) -> None:
        self.identity = identity
        self.service_type = service_type
        self.region = region
        self.http = http or new_client(timeout=60)
        self._lock = threading.Lock()
        self._endpoint: str | None = None

    def endpoint(self) -> str:
        with self._lock:
            if self._endpoint is None:
                self._endpoint = self._lookup()
            return self._endpoint

    def _lookup(self) -> str:
        token = self.identity.service_token()
        try:
            response = self.identity.http.get(
                f"{self.identity.auth_url}/auth/catalog", headers={"X-Auth-Token": token}
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"The identity service is unreachable: {exc}") from exc
        if response.status_code != 200:
            raise ServiceUnavailable(f"Cannot read the service catalog ({response.status_code}).")
        for service in response.json().get("catalog", []):
            if service.get("type") != self.service_type:
                continue
            endpoints = [
                e
                for e in service.get("endpoints", [])
                if e.get("region_id", e.get("region")) in (self.region, None)
            ]
            for interface in INTERFACES:
                for endpoint in endpoints:
                    if endpoint.get("interface") == interface:
                        return str(endpoint["url"]).rstrip("/")
        raise ServiceNotInCatalog(f"This cloud has no {self.service_type} service.")

    def request(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """A request as the caller whose token is given, else as this service's user."""
        headers = {"X-Auth-Token": token or self.identity.service_token()}
        headers.update(kwargs.pop("headers", {}))
        url = self.endpoint() + path
        try:
            return self.http.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"The {self.service_type} service at {url} is unreachable: {exc}"
            ) from exc

    def stream(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> Any:
        """A streamed request (a context manager giving the response)."""
        headers = {"X-Auth-Token": token or self.identity.service_token()}
        return self.http.stream(method, self.endpoint() + path, headers=headers, **kwargs)


def error_message(response: httpx.Response) -> str:
    """The message of an OpenStack error body, whichever service's shape it has."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, dict) and "message" in value:
                return str(value["message"])
    return response.reason_phrase
