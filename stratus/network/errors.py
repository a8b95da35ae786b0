"""Errors in Neutron's terms: the ``type`` of a NeutronError body is the name of the
exception Neutron raises for the same fault, which some clients match on."""

from __future__ import annotations

from stratus.runtime.api.errors import ApiError, Forbidden, NotFound


class PreconditionFailed(ApiError):
    status = 412


class NoNetworkAvailable(ApiError):
    status = 503


def not_found(kind: str, resource_id: str) -> NotFound:
    """``Network <id> could not be found.``, typed ``NetworkNotFound``."""
    label = {
        "SecurityGroup": "Security group",
        "SecurityGroupRule": "Security group rule",
        "FloatingIP": "Floating IP",
        "SubnetPool": "Subnet pool",
    }.get(kind, kind)
    return NotFound(f"{label} {resource_id} could not be found.", error_type=f"{kind}NotFound")


def not_allowed(message: str) -> Forbidden:
    return Forbidden(message, error_type="PolicyNotAuthorized")
