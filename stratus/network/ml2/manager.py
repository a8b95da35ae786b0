"""The ML2 manager: the configured type and mechanism drivers, used together."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.orm import Session

from stratus.network import models
from stratus.network.errors import NoNetworkAvailable
from stratus.network.ml2 import mechanism, types
from stratus.network.ml2.mechanism import Binding, BindingRequest
from stratus.runtime.api.errors import BadRequest
from stratus.runtime.config import Config, ConfigError
from stratus.runtime.db import new_id

T = TypeVar("T")


class Ml2:
    def __init__(self, conf: Config) -> None:
        self.types = {
            name: _driver(types.DRIVERS, name, "type_drivers")(conf)
            for name in conf.ml2.type_drivers
        }
        self.tenant_types = conf.ml2.tenant_network_types
        for name in self.tenant_types:
            if name not in self.types:
                raise ConfigError(f"tenant_network_types: {name!r} is not one of type_drivers")
        self.mechanisms = [
            _driver(mechanism.DRIVERS, name, "mechanism_drivers")()
            for name in conf.ml2.mechanism_drivers
        ]

    def create_segment(
        self,
        session: Session,
        network_id: str,
        network_type: str | None = None,
        physical_network: str | None = None,
        segmentation_id: int | None = None,
    ) -> models.Segment:
        """The network's segment: the provider segment an admin described, or one of
        the first tenant network type that has one free."""
        segment = models.Segment(
            id=new_id(),
            network_id=network_id,
            network_type=network_type or "",
            physical_network=physical_network,
            segmentation_id=segmentation_id,
        )
        if network_type is not None:
            driver = self.types.get(network_type)
            if driver is None:
                raise BadRequest(
                    f"Invalid input for operation: network type {network_type!r} is not "
                    f"supported; this cloud offers {', '.join(self.types)}.",
                    error_type="InvalidInput",
                )
            session.add(segment)
            session.flush()
            driver.reserve_provider(session, segment)
            return segment
        for name in self.tenant_types:
            segment.network_type = name
            session.add(segment)
            session.flush()
            if self.types[name].reserve_tenant(session, segment):
                return segment
        raise NoNetworkAvailable(
            "Unable to create the network. No tenant network is available for allocation.",
            error_type="NoNetworkAvailable",
        )

    def mtu(self, segment: models.Segment) -> int:
        return self.types[segment.network_type].mtu(segment)

    def bind(self, request: BindingRequest) -> Binding | None:
        """The first binding a mechanism driver offers, in configured order."""
        for driver in self.mechanisms:
            binding = driver.bind_port(request)
            if binding is not None:
                return binding
        return None


def _driver(table: dict[str, T], name: str, option: str) -> T:
    if name not in table:
        raise ConfigError(f"{option}: {name!r} is not one of {', '.join(table)}")
    return table[name]
