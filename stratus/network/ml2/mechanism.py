"""Mechanism drivers: which host-side technology wires a port, and how the hypervisor
or container runtime plugs into it (the port's ``binding:vif_type`` and
``binding:vif_details``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from stratus.host.names import bridge_name
from stratus.network import models

LINUXBRIDGE_AGENT = "Linux bridge agent"


@dataclass(frozen=True)
class BindingRequest:
    """What a driver sees when asked to bind a port: its network's segments, the host,
    and the live agents on that host (with the configurations they report)."""

    network_id: str
    vnic_type: str
    host: str
    segments: list[models.Segment]
    agents: list[models.Agent] = field(default_factory=list)


@dataclass(frozen=True)
class Binding:
    vif_type: str
    vif_details: dict[str, Any]
    segment: models.Segment


class MechanismDriver(ABC):
    name: ClassVar[str]

    @abstractmethod
    def bind_port(self, request: BindingRequest) -> Binding | None:
        """Bind the port on one of the segments, or None if this driver cannot."""


class LinuxBridgeDriver(MechanismDriver):
    """Ports plugged into the network's Linux bridge (``brq`` + the network id's first
    11 characters) by the host's Linux bridge agent, which also filters their traffic.

    The agent reports in its configurations the ``interface_mappings`` (physical
    network to host interface) it can reach flat and VLAN segments through, and the
    ``tunnel_types`` (``vxlan``) it can carry; local segments need nothing."""

    name = "linuxbridge"
    vnic_types = ("normal",)

    def bind_port(self, request: BindingRequest) -> Binding | None:
        if request.vnic_type not in self.vnic_types:
            return None
        for agent in request.agents:
            if agent.agent_type != LINUXBRIDGE_AGENT:
                continue
            for segment in request.segments:
                if self._reaches(agent.configurations or {}, segment):
                    details = {
                        "connectivity": "l2",
                        "port_filter": True,
                        "bridge_name": bridge_name(request.network_id),
                    }
                    return Binding("bridge", details, segment)
        return None

    @staticmethod
    def _reaches(configurations: dict[str, Any], segment: models.Segment) -> bool:
        if segment.network_type == "local":
            return True
        if segment.network_type in ("flat", "vlan"):
            return segment.physical_network in (configurations.get("interface_mappings") or {})
        return segment.network_type in (configurations.get("tunnel_types") or [])


DRIVERS: dict[str, type[MechanismDriver]] = {LinuxBridgeDriver.name: LinuxBridgeDriver}
