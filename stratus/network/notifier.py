"""Hints to the agents that the desired state changed: they re-read it over RPC. A hint
that cannot be sent is logged and dropped, as agents also resynchronise periodically."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from stratus.network import topics
from stratus.runtime.bus import Bus

LOG = logging.getLogger(__name__)


class Notifier:
    def __init__(self, bus: Callable[[], Bus] | None) -> None:
        self._bus = bus

    def networks_changed(self, network_ids: Iterable[str], *, dhcp: bool = True) -> None:
        """``dhcp`` False: nothing the DHCP agents serve changed (a port's binding only),
        so only the L2 agents are told."""
        ids = sorted(set(network_ids))
        if ids:
            self._fanout(topics.L2_AGENT, network_ids=ids)
            if dhcp:
                self._fanout(topics.DHCP_AGENT, network_ids=ids)

    def security_groups_changed(self, group_ids: Iterable[str]) -> None:
        ids = sorted(set(group_ids))
        if ids:
            self._fanout(topics.L2_AGENT, security_group_ids=ids)

    def routers_changed(self, router_ids: Iterable[str]) -> None:
        ids = sorted({i for i in router_ids if i})
        if ids:
            self._fanout(topics.L3_AGENT, router_ids=ids)

    def _fanout(self, topic: str, **ids: list[str]) -> None:
        if self._bus is None:
            return
        try:
            self._bus().fanout(topic, topics.CHANGED, **ids)
        except Exception:
            LOG.warning("could not tell %s agents of a change", topic, exc_info=True)
