"""The libvirt driver: one QEMU domain per server (KVM where it works, TCG elsewhere),
booting a qcow2 overlay on the host's cached image, or the image's kernel and ramdisk
directly; its NICs are taps plugged into their networks by the network service's
plugging (hot plugged into the paused domain at build time, so that QEMU starts while
the ports are made, and into a running guest as well); its serial port listens on a
host TCP port (for the serial console proxy) and is logged to a file.

Domains are persistent and named ``instance-<uuid>``, so that an agent that restarts
finds them. Resizes stay on one host (a disk is not copied between hosts).
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import libvirt

from stratus.compute import states
from stratus.compute.clients.images import ImageClient
from stratus.compute.virt.driver import (
    ConsoleUnavailable,
    Instance,
    NetworkInfo,
    VirtDriver,
    VirtError,
)
from stratus.compute.virt.libvirt import hotplug
from stratus.compute.virt.libvirt.config import (
    Boot,
    domain_xml,
    hot_plugs_on_root_bus,
    interface_xml,
    nic_slot,
    serial_listener,
    vif_model,
)
from stratus.compute.virt.libvirt.disks import CONSOLE, DISK, Disks, qemu_img
from stratus.compute.virt.libvirt.host import Host, power_state
from stratus.compute.virt.libvirt.serial import SerialPorts
from stratus.network.plugging import Plugging, Tap
from stratus.runtime.config import Config

LOG = logging.getLogger(__name__)

CONSOLE_TAIL_BYTES = 100 * 1024
POLL = 0.2
PLUG_WAIT = 30.0  # seconds for this host's L2 agent to wire a server's taps
STARTS_AT_ONCE = 8  # domains starting in the background (libvirt serializes what it must)
UNDEFINE_FLAGS = (
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
    | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
    | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
)


class LibvirtDriver(VirtDriver):
    def __init__(self, conf: Config, images: ImageClient, plugging: Plugging) -> None:
        self.hostname: str = conf.get("DEFAULT", "host")
        self.host_ip: str = conf.get("DEFAULT", "my_ip")
        self.host = Host(conf.libvirt.connection_uri, conf.libvirt.virt_type)
        self.disks = Disks(Path(conf.compute.instances_path), images)
        self.plugging = plugging
        # domains prepare started, by server uuid, until spawn or destroy takes them
        self._starting: dict[str, Future[libvirt.virDomain]] = {}
        self._starts = ThreadPoolExecutor(STARTS_AT_ONCE, thread_name_prefix="domain-start")
        self.shutdown_timeout: int = conf.compute.shutdown_timeout
        serial = conf.serial_console
        self.serial_ports = SerialPorts(self.host, serial.proxyclient_address, serial.port_range)
        LOG.info("libvirt driver on %s with virt_type %s", self.host.uri, self.host.virt_type)

    # -- the host -----------------------------------------------------------------------

    def hosts(self) -> list[str]:
        return [self.hostname]

    def nodes(self, host: str) -> list[dict[str, Any]]:
        return [self.host.node(host, self.disks.root, self.host_ip)]

    def list_instances(self, host: str) -> dict[str, int]:
        return self.host.domains(host)

    def power_state(self, instance: Instance) -> int:
        domain = self.host.domain(instance["uuid"])
        return states.NOSTATE if domain is None else power_state(domain)

    # -- building and deleting ----------------------------------------------------------

    def spawn(
        self,
        instance: Instance,
        network_info: NetworkInfo,
        ports: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        # Nova's pattern: the domain starts paused while its taps are bound, put in their
        # bridges and wired by this host's L2 agent, and runs only once their security
        # groups are in force, so that no packet of the guest's leaves before them.
        starting = self._starting.pop(instance["uuid"], None)
        if starting is None:  # not prepared (a rebuild), or NICs only at start (q35)
            disk = self._disk(instance)
            for vif in network_info:  # QEMU opens the taps at start: only they are made first
                self.plugging.make(Tap(vif["devname"]), vif["mac_address"], vif.get("mtu") or None)
            domain = self._define(instance, disk, network_info)
            starting = self._starts.submit(self._start_paused, instance, domain)
            late: NetworkInfo = []
        else:  # started by prepare without NICs: they go in before the guest first runs
            late = network_info
        try:
            self._plug(instance, network_info, ports)
        finally:
            wait([starting])
        domain = starting.result()
        model = vif_model(instance)
        try:
            for index, vif in enumerate(late):
                hotplug.attach(domain, interface_xml(vif, model, nic_slot(instance, index)))
            domain.resume()
        except libvirt.libvirtError as exc:
            raise VirtError(f"cannot run the domain of {instance['uuid']}: {exc}") from exc

    def prepare(self, instance: Instance) -> None:
        """The disk made and the kernel and ramdisk cached; where NICs can be hot plugged
        before the guest first runs, its domain is defined without them and starts paused
        in the background while the ports are made (QEMU's start is most of a boot)."""
        disk = self._disk(instance)
        if not hot_plugs_on_root_bus(instance):
            self._boot(instance, disk)
            return
        domain = self._define(instance, disk, [])
        self._starting[instance["uuid"]] = self._starts.submit(self._start_paused, instance, domain)

    def _disk(self, instance: Instance) -> Path:
        """The server's disk, made if missing."""
        props = instance.get("image_properties") or {}
        return self.disks.create(
            instance["uuid"],
            instance["image_ref"],
            str(props.get("disk_format") or "qcow2"),
            instance["flavor"]["root_gb"],
        )

    @staticmethod
    def _start_paused(instance: Instance, domain: libvirt.virDomain) -> libvirt.virDomain:
        try:
            domain.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
        except libvirt.libvirtError as exc:
            raise VirtError(f"cannot start the domain of {instance['uuid']}: {exc}") from exc
        return domain

    def _boot(self, instance: Instance, disk: Path) -> Boot:
        kernel = ramdisk = None
        if instance.get("kernel_id"):
            kernel = self.disks.cached(instance["kernel_id"])
            if instance.get("ramdisk_id"):
                ramdisk = self.disks.cached(instance["ramdisk_id"])
        console = self.disks.instance_dir(instance["uuid"]) / CONSOLE
        return Boot(disk=disk, console_log=console, kernel=kernel, ramdisk=ramdisk)

    def _define(
        self, instance: Instance, disk: Path, network_info: NetworkInfo
    ) -> libvirt.virDomain:
        boot = self._boot(instance, disk)
        with self.serial_ports.reserve(instance["uuid"]) as serial:
            boot = dataclasses.replace(boot, serial=serial)
            xml = domain_xml(instance, boot, network_info, self.host.virt_type)
            try:
                return self.host.conn.defineXML(xml)
            except libvirt.libvirtError as exc:
                raise VirtError(f"libvirt refused the domain of {instance['uuid']}: {exc}") from exc

    def _plug(
        self,
        instance: Instance,
        network_info: NetworkInfo,
        ports: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """The taps made, bound and in their bridges, and wired by the L2 agent (one pass
        for them all)."""
        ports = ports or {}
        owner = "compute:" + (instance.get("availability_zone") or "nova")
        plugged = [
            self.plugging.attach(
                vif["port_id"],
                Tap(vif["devname"]),
                device_id=instance["uuid"],
                device_owner=owner,
                port=ports.get(vif["port_id"]),
                mtu=vif.get("mtu") or None,
            )
            for vif in network_info
        ]
        self.plugging.wait_wired(plugged, PLUG_WAIT)

    def _unplug(self, network_info: NetworkInfo) -> None:
        for vif in network_info:
            self.plugging.unplug(vif["port_id"], Tap(vif["devname"]), unbind=False)

    def destroy(self, instance: Instance) -> None:
        starting = self._starting.pop(instance["uuid"], None)
        if starting is not None:  # prepared, never spawned (its ports could not be made)
            wait([starting])
        domain = self.host.domain(instance["uuid"])
        if domain is not None:
            if domain.isActive():
                domain.destroy()
            domain.undefineFlags(UNDEFINE_FLAGS)
        self._unplug(instance.get("network_info") or [])
        self.disks.remove(instance["uuid"])

    # -- power --------------------------------------------------------------------------

    def _domain(self, instance: Instance) -> libvirt.virDomain:
        domain = self.host.domain(instance["uuid"])
        if domain is None:
            raise VirtError(f"server {instance['uuid']} has no domain on {self.hostname}")
        return domain

    def power_off(self, instance: Instance) -> None:
        """ACPI power button first; turned off if the guest has not gone in time."""
        domain = self._domain(instance)
        if not domain.isActive():
            return
        try:
            domain.shutdown()
        except libvirt.libvirtError:
            LOG.debug("guest %s ignored the shutdown request", instance["uuid"], exc_info=True)
        deadline = time.monotonic() + self.shutdown_timeout
        while domain.isActive() and time.monotonic() < deadline:
            time.sleep(POLL)
        if domain.isActive():
            domain.destroy()

    def power_on(self, instance: Instance) -> None:
        domain = self._domain(instance)
        if not domain.isActive():
            domain.create()

    def reboot(self, instance: Instance, hard: bool) -> None:
        """A soft reboot asks the guest; a hard one defines the domain anew from the
        server's record (it repairs a domain that went missing) and starts it."""
        if not hard:
            self._domain(instance).reboot(0)
            return
        domain = self.host.domain(instance["uuid"])
        if domain is not None and domain.isActive():
            domain.destroy()
        disk = self.disks.instance_dir(instance["uuid"]) / DISK
        if not disk.exists():
            raise VirtError(f"server {instance['uuid']} has no disk on {self.hostname}")
        network_info = instance.get("network_info") or []
        self._plug(instance, network_info)
        self._define(instance, disk, network_info).create()

    def pause(self, instance: Instance) -> None:
        self._domain(instance).suspend()

    def unpause(self, instance: Instance) -> None:
        self._domain(instance).resume()

    def suspend(self, instance: Instance) -> None:
        self._domain(instance).managedSave(0)

    def resume(self, instance: Instance) -> None:
        self._domain(instance).create()  # restores the managed save

    # -- resize (on one host) -----------------------------------------------------------

    def migrate_disk_and_power_off(self, instance: Instance, dest_host: str) -> None:
        if dest_host != self.hostname:
            raise VirtError("The libvirt driver resizes servers on their own host only.")
        self.power_off(instance)

    def finish_migration(
        self, instance: Instance, network_info: NetworkInfo, power_on: bool
    ) -> None:
        disk = self.disks.instance_dir(instance["uuid"]) / DISK
        self.disks.grow(disk, instance["flavor"]["root_gb"])
        domain = self._define(instance, disk, network_info)
        if power_on:
            domain.create()

    def confirm_migration(self, instance: Instance, source_host: str) -> None:
        """Nothing is left behind: the disk never left the host."""

    def revert_migration(self, instance: Instance, source_host: str) -> None:
        """Nothing to remove: the destination is the source, whose disk and taps the
        server runs on again (the disk keeps the size it grew to)."""

    def finish_revert_migration(
        self, instance: Instance, network_info: NetworkInfo, power_on: bool
    ) -> None:
        domain = self.host.domain(instance["uuid"])
        if domain is not None and domain.isActive():
            domain.destroy()
        disk = self.disks.instance_dir(instance["uuid"]) / DISK
        domain = self._define(instance, disk, network_info)
        if power_on:
            domain.create()

    # -- snapshot and console -----------------------------------------------------------

    def snapshot(self, instance: Instance, upload: Callable[[Path], None]) -> None:
        """A standalone qcow2 of the server's disk, taken with the guest paused."""
        domain = self._domain(instance)
        disk = self.disks.instance_dir(instance["uuid"]) / DISK
        running = domain.isActive() and power_state(domain) == states.RUNNING
        with tempfile.TemporaryDirectory(dir=self.disks.root) as tmp:
            target = Path(tmp) / "snapshot.qcow2"
            if running:
                domain.suspend()
            try:
                qemu_img("convert", "-U", "-O", "qcow2", str(disk), str(target))
            finally:
                if running:
                    domain.resume()
            upload(target)

    def get_console_output(self, instance: Instance) -> str:
        self._domain(instance)
        log = self.disks.instance_dir(instance["uuid"]) / CONSOLE
        try:
            with open(log, "rb") as handle:
                handle.seek(0, 2)
                size = handle.tell()
                handle.seek(max(0, size - CONSOLE_TAIL_BYTES))
                return handle.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def get_serial_console(self, instance: Instance) -> dict[str, Any]:
        domain = self._domain(instance)
        if not domain.isActive():
            raise ConsoleUnavailable(f"server {instance['uuid']} is not running")
        listener = serial_listener(domain.XMLDesc(0))
        if listener is None:  # a domain defined before serial consoles listened
            raise ConsoleUnavailable(
                f"the serial port of server {instance['uuid']} does not listen; "
                "a hard reboot gives it a listening one"
            )
        return {"host": listener.host, "port": listener.port}

    # -- interfaces ---------------------------------------------------------------------

    def attach_interface(self, instance: Instance, vif: dict[str, Any]) -> None:
        domain = self._domain(instance)
        self._plug(instance, [vif])
        try:
            hotplug.attach(domain, interface_xml(vif, vif_model(instance)))
        except libvirt.libvirtError as exc:
            self._unplug([vif])
            raise VirtError(
                f"cannot attach port {vif['port_id']} to server {instance['uuid']}: {exc}"
            ) from exc

    def detach_interface(self, instance: Instance, vif: dict[str, Any]) -> None:
        domain = self.host.domain(instance["uuid"])
        if domain is not None:
            xml = interface_xml(vif, vif_model(instance))
            try:
                hotplug.detach(domain, xml, vif["mac_address"])
            except libvirt.libvirtError as exc:
                raise VirtError(
                    f"cannot detach port {vif['port_id']} from server {instance['uuid']}: {exc}"
                ) from exc
        self._unplug([vif])
