"""The network service (Neutron v2.0) as the other services use it.

Reads take the caller's token, so that what the caller may not see does not exist for it
(``None``). Port changes take the caller's token when a caller asks for them (the
network service's policy and quotas then apply to the caller), or none to act as the
service's own user (binding a port, freeing what a resource held).
"""

from __future__ import annotations

from typing import Any

import httpx

from stratus.runtime.api.errors import ServiceUnavailable
from stratus.runtime.clients.catalog import ServiceClient, error_message


class NetworkError(Exception):
    """The network service refused (``status`` is its HTTP status) or failed."""

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


class NetworkApi:
    def __init__(self, service: ServiceClient) -> None:
        self.service = service

    # -- reads ------------------------------------------------------------------------------

    def show_network(self, network_id: str, token: str | None) -> dict[str, Any] | None:
        return self._show("networks", "network", network_id, token)

    def show_port(self, port_id: str, token: str | None = None) -> dict[str, Any] | None:
        return self._show("ports", "port", port_id, token)

    def list_networks(self, token: str | None, **filters: Any) -> list[dict[str, Any]]:
        return self._list("networks", token, filters)

    def list_subnets(self, token: str | None, **filters: Any) -> list[dict[str, Any]]:
        return self._list("subnets", token, filters)

    def list_ports(self, token: str | None, **filters: Any) -> list[dict[str, Any]]:
        return self._list("ports", token, filters)

    def list_floating_ips(self, token: str | None, **filters: Any) -> list[dict[str, Any]]:
        return self._list("floatingips", token, filters)

    def security_groups(self, project_id: str, token: str | None) -> list[dict[str, Any]]:
        return self._list("security-groups", token, {"project_id": project_id})

    # -- port changes -----------------------------------------------------------------------

    def new_port(self, fields: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        """A port with ``fields``; NetworkError with the service's status if refused."""
        response = self.service.request("POST", "/v2.0/ports", token=token, json={"port": fields})
        return _port(response, 201, f"Cannot create a port on network {fields.get('network_id')}")

    def update_port(
        self,
        port_id: str,
        fields: dict[str, Any],
        token: str | None = None,
        what: str = "update",
        revision: int | None = None,
    ) -> dict[str, Any]:
        """``revision``: only if the port is still at that revision number (else 412)."""
        body = {"port": fields}
        response = self.service.request(
            "PUT", f"/v2.0/ports/{port_id}", token=token, json=body, headers=_if_match(revision)
        )
        return _port(response, 200, f"Cannot {what} port {port_id}")

    def unbind_port(self, port_id: str, revision: int | None = None) -> None:
        """Let the port go; ``revision``: only if it is still at that revision (else 412)."""
        body = {"port": {"device_id": "", "device_owner": "", "binding:host_id": ""}}
        response = self.service.request(
            "PUT", f"/v2.0/ports/{port_id}", json=body, headers=_if_match(revision)
        )
        if response.status_code not in (200, 404):
            message = f"Cannot unbind port {port_id}: {error_message(response)}"
            raise NetworkError(message, response.status_code)

    def delete_port(self, port_id: str) -> None:
        response = self.service.request("DELETE", f"/v2.0/ports/{port_id}")
        if response.status_code not in (204, 404):
            message = f"Cannot delete port {port_id}: {error_message(response)}"
            raise NetworkError(message, response.status_code)

    # -- plumbing ---------------------------------------------------------------------------

    def _show(self, kind: str, key: str, item_id: str, token: str | None) -> dict | None:
        response = self.service.request("GET", f"/v2.0/{kind}/{item_id}", token=token)
        if response.status_code == 404:
            return None
        _check(response, 200)
        return response.json()[key]

    def _list(self, kind: str, token: str | None, filters: dict[str, Any]) -> list[dict]:
        """Every item, page after page (the service pages long lists, by id)."""
        key = kind.replace("-", "_")
        found: list[dict] = []
        params = filters
        while True:
            response = self.service.request("GET", f"/v2.0/{kind}", token=token, params=params)
            _check(response, 200)
            body = response.json()
            found += body[key]
            if not body[key] or not any(
                link.get("rel") == "next" for link in body.get(f"{key}_links", [])
            ):
                return found
            params = {**filters, "marker": found[-1]["id"]}


def _port(response: httpx.Response, expected: int, what: str) -> dict[str, Any]:
    if response.status_code != expected:
        raise NetworkError(f"{what}: {error_message(response)}", response.status_code)
    return response.json()["port"]


def _if_match(revision: int | None) -> dict[str, str]:
    """The header that makes an update conditional on the port's revision (412 if not)."""
    return {} if revision is None else {"If-Match": f"revision_number={revision}"}


def _check(response: httpx.Response, expected: int) -> None:
    if response.status_code != expected:
        raise ServiceUnavailable(f"The network service failed: {error_message(response)}")
