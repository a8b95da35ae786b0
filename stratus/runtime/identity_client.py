"""How a service talks to the identity API: its own service token, and validating the
tokens its callers present (cached, as keystonemiddleware does)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from stratus.runtime.api.errors import ServiceUnavailable, Unauthorized
from stratus.runtime.config import Config, Opt, register
from stratus.runtime.http import new_client

register(
    "service_auth",
    Opt(
        "auth_url",
        "http://{my_ip}:{identity.port}/v3",
        "Identity API that services authenticate against.",
    ),
    Opt("token_cache_time", 300, "Seconds a validated token is trusted before re-checking.", int),
    Opt("service_project", "service", "Project that service users belong to."),
)


def register_service_credentials(section: str, user: str) -> None:
    """Declare ``service_user``/``service_password`` for a service's section."""
    register(
        section,
        Opt("service_user", user, "The service's own user in the identity service."),
        Opt("service_password", "", "Its password (bootstrap generates and records it)."),
    )


class IdentityClient:
    """A service's session with the identity API."""

    def __init__(self, conf: Config, section: str, http: httpx.Client | None = None) -> None:
        self.auth_url = conf.service_auth.auth_url.rstrip("/")
        self.user = conf.get(section, "service_user")
        self.password = conf.get(section, "service_password")
        self.project = conf.service_auth.service_project
        self.cache_time = conf.service_auth.token_cache_time
        self.http = http or new_client(timeout=30)
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    def service_token(self) -> str:
        """A token for this service, renewed a minute before it expires."""
        with self._lock:
            if self._token and self._token[1] > time.monotonic() + 60:
                return self._token[0]
            body = {
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {
                                "name": self.user,
                                "domain": {"id": "default"},
                                "password": self.password,
                            }
                        },
                    },
                    "scope": {"project": {"name": self.project, "domain": {"id": "default"}}},
                }
            }
            response = self._request("POST", "/auth/tokens", json=body)
            if response.status_code != 201:
                raise ServiceUnavailable(
                    f"The service user {self.user!r} cannot authenticate "
                    f"({response.status_code}); check its service_password."
                )
            lifetime = _seconds_left(response.json()["token"]["expires_at"])
            self._token = (response.headers["x-subject-token"], time.monotonic() + lifetime)
            return self._token[0]

    def cached(self, token: str) -> dict[str, Any] | None:
        """The token's body if it was validated within the cache time; None otherwise."""
        cached = self._cache.get(token)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        return None

    def validate(self, token: str) -> dict[str, Any]:
        """The token's body if it is valid now; Unauthorized otherwise."""
        body = self.cached(token)
        if body is not None:
            return body
        now = time.monotonic()
        response = self._request(
            "GET",
            "/auth/tokens",
            headers={"X-Auth-Token": self.service_token(), "X-Subject-Token": token},
        )
        if response.status_code == 401:
            self._token = None
            response = self._request(
                "GET",
                "/auth/tokens",
                headers={"X-Auth-Token": self.service_token(), "X-Subject-Token": token},
            )
        if response.status_code in (401, 404):
            raise Unauthorized("The token is invalid, expired or revoked.")
        if response.status_code != 200:
            raise ServiceUnavailable(f"Token validation failed ({response.status_code}).")
        body = response.json()["token"]
        if len(self._cache) > 10_000:
            self._cache.clear()
        trusted = min(self.cache_time, _seconds_left(body["expires_at"]))
        self._cache[token] = (now + trusted, body)
        return body

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, self.auth_url + path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"The identity service at {self.auth_url} is unreachable: {exc}"
            ) from exc


def _seconds_left(expires_at: str) -> float:
    expiry = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    if expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=UTC)
    return max(0.0, (expiry - datetime.now(UTC)).total_seconds())
