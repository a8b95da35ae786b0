"""Choosing the virt driver ``[compute] compute_driver`` names."""

from __future__ import annotations

from stratus.compute.clients.images import ImageClient
from stratus.compute.virt.driver import VirtDriver
from stratus.runtime.bus import Bus
from stratus.runtime.clients.catalog import ServiceClient
from stratus.runtime.config import Config


def load_driver(
    conf: Config, images: ImageClient, network_api: ServiceClient, bus: Bus
) -> VirtDriver:
    name = conf.compute.compute_driver
    if name == "fake":
        from stratus.compute.virt.fake import FakeDriver

        return FakeDriver(conf)
    from stratus.compute.virt.libvirt.driver import LibvirtDriver
    from stratus.network.plugging import Plugging

    return LibvirtDriver(conf, images, Plugging(network_api, bus, conf))
