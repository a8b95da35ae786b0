"""What a scheduling request asks for; it travels over the bus as a plain dict."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class Resources:
    vcpus: int
    memory_mb: int
    disk_gb: int

    @classmethod
    def of_flavor(cls, flavor: dict[str, Any]) -> Resources:
        disk = (
            flavor["root_gb"]
            + flavor.get("ephemeral_gb", 0)
            + math.ceil(flavor.get("swap", 0) / 1024)
        )
        return cls(vcpus=flavor["vcpus"], memory_mb=flavor["memory_mb"], disk_gb=disk)


@dataclass
class GroupInfo:
    """The server group a request's servers join: its policy and where its members are."""

    id: str
    policy: str
    hosts: list[str] = field(default_factory=list)  # one entry per member already placed
    rules: dict[str, Any] = field(default_factory=dict)

    @property
    def max_server_per_host(self) -> int:
        return int(self.rules.get("max_server_per_host", 1))


@dataclass
class RequestSpec:
    """``consumers`` are the ids the claims are recorded under, one per server placed."""

    consumers: list[str]
    project_id: str
    flavor: dict[str, Any]
    image_properties: dict[str, Any] = field(default_factory=dict)
    availability_zone: str | None = None
    force_host: str | None = None
    force_node: str | None = None
    ignore_hosts: list[str] = field(default_factory=list)
    group: GroupInfo | None = None

    @cached_property
    def resources(self) -> Resources:
        return Resources.of_flavor(self.flavor)

    @cached_property
    def extra_specs(self) -> dict[str, str]:
        return self.flavor.get("extra_specs") or {}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestSpec:
        group = data.get("group")
        return cls(**{**data, "group": GroupInfo(**group) if group else None})
