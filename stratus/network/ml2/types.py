"""Type drivers: what each segment type accepts from an admin, and how a project network
gets one. A segment in use is a row of ``network_segment_allocations``; its primary key
makes a VLAN, a VNI or a flat physical network go to one network only, even when two
creates race (the loser's transaction is retried and then sees it taken)."""

from __future__ import annotations

from abc import ABC
from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.network import models
from stratus.network.errors import NoNetworkAvailable
from stratus.network.ranges import pick_free
from stratus.runtime.api.errors import BadRequest, Conflict
from stratus.runtime.config import Config, ConfigError

VLAN_MAX = 4094
VNI_MAX = 2**24 - 1
VXLAN_OVERHEAD = 50  # outer IPv4, UDP, VXLAN and Ethernet headers


def provider_error(message: str) -> BadRequest:
    return BadRequest(f"Invalid input for operation: {message}", error_type="InvalidInput")


def parse_range(text: str, maximum: int, option: str) -> tuple[int, int]:
    try:
        first, last = (int(part) for part in text.split(":"))
    except ValueError:
        raise ConfigError(f"{option}: {text!r} is not first:last") from None
    if not 1 <= first <= last <= maximum:
        raise ConfigError(f"{option}: {text!r} is not a range within 1-{maximum}")
    return first, last


def parse_vlan_ranges(entries: list[str]) -> dict[str, list[tuple[int, int]]]:
    """``physnet1:100:199,physnet2`` as {physnet: [ranges]} (no range: provider only)."""
    physnets: dict[str, list[tuple[int, int]]] = {}
    for entry in entries:
        physnet, _, rest = entry.partition(":")
        if not physnet:
            raise ConfigError(f"network_vlan_ranges: {entry!r} names no physical network")
        ranges = physnets.setdefault(physnet, [])
        if rest:
            ranges.append(parse_range(rest, VLAN_MAX, "network_vlan_ranges"))
    return physnets


class TypeDriver(ABC):
    """One segment type. ``reserve_provider`` checks and takes the segment an admin asked
    for; ``reserve_tenant`` takes a free one for a project network (False when none is
    left or the type gives none to projects)."""

    network_type: ClassVar[str]

    def __init__(self, conf: Config) -> None:
        self.physnet_mtu = conf.network.global_physnet_mtu

    def mtu(self, segment: models.Segment) -> int:
        return self.physnet_mtu

    def reserve_provider(self, session: Session, segment: models.Segment) -> None:
        raise NotImplementedError

    def reserve_tenant(self, session: Session, segment: models.Segment) -> bool:
        return False

    def _forbid(self, segment: models.Segment, physical: bool, segmentation: bool) -> None:
        kind = self.network_type
        if physical and segment.physical_network is not None:
            raise provider_error(f"provider:physical_network is not allowed for {kind} networks.")
        if segmentation and segment.segmentation_id is not None:
            raise provider_error(f"provider:segmentation_id is not allowed for {kind} networks.")

    def _take(self, session: Session, segment: models.Segment, in_use: str | None = None) -> None:
        """Record the segment as allocated. One asked for by an admin (``in_use`` says
        what it is) gets a 409 if it already is; one picked as free was free when read, and
        if a concurrent transaction took it since, the insert fails and all is retried."""
        key = {
            "network_type": self.network_type,
            "physical_network": segment.physical_network or "",
            "segmentation_id": segment.segmentation_id or 0,
        }
        if in_use is not None and session.get(models.SegmentAllocation, key) is not None:
            raise Conflict(f"Unable to create the network. {in_use}", error_type=self._in_use_type)
        session.add(models.SegmentAllocation(segment_id=segment.id, **key))
        session.flush()

    _in_use_type = "SegmentInUse"

    def _free_id(self, session: Session, physnet: str, ranges: list[tuple[int, int]]) -> int | None:
        taken = session.scalars(
            sa.select(models.SegmentAllocation.segmentation_id).where(
                models.SegmentAllocation.network_type == self.network_type,
                models.SegmentAllocation.physical_network == physnet,
            )
        )
        return pick_free(ranges, taken)


class LocalDriver(TypeDriver):
    """A network that stays on each host: nothing to allocate."""

    network_type = "local"

    def reserve_provider(self, session: Session, segment: models.Segment) -> None:
        self._forbid(segment, physical=True, segmentation=True)

    def reserve_tenant(self, session: Session, segment: models.Segment) -> bool:
        return True


class FlatDriver(TypeDriver):
    """An untagged physical network: one network per physical network."""

    network_type = "flat"
    _in_use_type = "FlatNetworkInUse"

    def __init__(self, conf: Config) -> None:
        super().__init__(conf)
        self.allowed = conf.ml2_type_flat.flat_networks

    def reserve_provider(self, session: Session, segment: models.Segment) -> None:
        self._forbid(segment, physical=False, segmentation=True)
        physnet = segment.physical_network
        if not physnet:
            raise provider_error("flat networks need provider:physical_network.")
        if "*" not in self.allowed and physnet not in self.allowed:
            raise provider_error(
                f"physical network {physnet!r} is not one of flat_networks "
                f"({', '.join(self.allowed) or 'none'})."
            )
        self._take(session, segment, f"Physical network {physnet} is in use.")


class VlanDriver(TypeDriver):
    """802.1Q VLANs on the physical networks of ``network_vlan_ranges``."""

    network_type = "vlan"
    _in_use_type = "VlanIdInUse"

    def __init__(self, conf: Config) -> None:
        super().__init__(conf)
        self.physnets = parse_vlan_ranges(conf.ml2_type_vlan.network_vlan_ranges)

    def reserve_provider(self, session: Session, segment: models.Segment) -> None:
        physnet, vlan = segment.physical_network, segment.segmentation_id
        if not physnet:
            if vlan is not None:
                raise provider_error("provider:physical_network is required with a VLAN id.")
            if not self.reserve_tenant(session, segment):
                raise _exhausted()
            return
        if physnet not in self.physnets:
            raise provider_error(
                f"physical network {physnet!r} is not one of network_vlan_ranges "
                f"({', '.join(self.physnets) or 'none'})."
            )
        if vlan is None:
            vlan = self._free_id(session, physnet, self.physnets[physnet])
            if vlan is None:
                raise _exhausted()
            segment.segmentation_id = vlan
            self._take(session, segment)
            return
        if not 1 <= vlan <= VLAN_MAX:
            raise provider_error(f"segmentation_id {vlan} is out of range (1 through {VLAN_MAX}).")
        self._take(session, segment, f"The VLAN {vlan} on physical network {physnet} is in use.")

    def reserve_tenant(self, session: Session, segment: models.Segment) -> bool:
        for physnet, ranges in self.physnets.items():
            vlan = self._free_id(session, physnet, ranges)
            if vlan is not None:
                segment.physical_network, segment.segmentation_id = physnet, vlan
                self._take(session, segment)
                return True
        return False


class VxlanDriver(TypeDriver):
    """VXLAN overlays, VNIs from ``vni_ranges``."""

    network_type = "vxlan"
    _in_use_type = "TunnelIdInUse"

    def __init__(self, conf: Config) -> None:
        super().__init__(conf)
        self.ranges = [
            parse_range(r, VNI_MAX, "vni_ranges") for r in conf.ml2_type_vxlan.vni_ranges
        ]
        self.path_mtu = conf.ml2.path_mtu or self.physnet_mtu

    def mtu(self, segment: models.Segment) -> int:
        return self.path_mtu - VXLAN_OVERHEAD

    def reserve_provider(self, session: Session, segment: models.Segment) -> None:
        self._forbid(segment, physical=True, segmentation=False)
        vni = segment.segmentation_id
        if vni is None:
            if not self.reserve_tenant(session, segment):
                raise _exhausted()
            return
        if not 1 <= vni <= VNI_MAX:
            raise provider_error(f"segmentation_id {vni} is out of range (1 through {VNI_MAX}).")
        self._take(session, segment, f"The tunnel ID {vni} is in use.")

    def reserve_tenant(self, session: Session, segment: models.Segment) -> bool:
        vni = self._free_id(session, "", self.ranges)
        if vni is None:
            return False
        segment.segmentation_id = vni
        self._take(session, segment)
        return True


def _exhausted() -> NoNetworkAvailable:
    return NoNetworkAvailable(
        "Unable to create the network. No free segment is left of the requested type.",
        error_type="NoNetworkAvailable",
    )


DRIVERS: dict[str, type[TypeDriver]] = {
    driver.network_type: driver for driver in (LocalDriver, FlatDriver, VlanDriver, VxlanDriver)
}
