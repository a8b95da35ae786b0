"""Boot to ACTIVE and to the first DHCP lease through the compute API, against the same
domain defined and started directly with libvirt in the same run (needs root, libvirt,
QEMU and dnsmasq; TCG here, KVM where it works).

Stratus: an all-in-one cloud (identity, image, network, compute with the libvirt driver)
started the way ``make run`` starts one, in a process of its own, over real HTTP. The
Stratus guest (tools/build-guest-image.sh) is uploaded to its image service as a kernel,
a ramdisk and a qcow2 naming them, and a tenant network with a DHCP subnet is made. The
clock runs from ``POST /servers`` (m1.tiny, one NIC on that network) to the server ACTIVE
as ``GET /servers/{id}`` shows it (polled every 10 ms), and on to its MAC's line in the
network's dnsmasq lease file (polled every 20 ms). A first boot, which downloads the images
into the host's cache, is not counted. Each server is deleted before the next run.

Raw, with libvirt-python: the same domain -- the driver's own XML builder given the record
the agent got for the first server, a qcow2 overlay made by the driver's own disk code on
the same cached image, kernel and initrd -- with a tap of its own (same MTU) in a bridge
served by dnsmasq in a namespace (:class:`common.HandNetwork`: the port's firewall batch
and host entry). That host preparation is timed apart; the clock runs from ``defineXML``
to ``create()`` returning (running) and on to the lease, polled the same way.

The two alternate, so that both see the same load on the host; besides the ratios of
the medians, the table gives the median of each run's own ratio (its API boot over the
raw boot right after it), which a load that comes and goes between runs disturbs less.
Everything made is removed at the end, also when interrupted (SIGTERM included):
servers, domains, disks, taps, the bridge, namespaces, dnsmasq and firewall rules.

usage: python benchmarks/bench_boot.py [--runs N]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import libvirt
import sqlalchemy as sa
from common import (
    ROOT,
    HandNetwork,
    admin_token,
    default_images,
    exit_on_sigterm,
    print_table,
    running_cloud,
)

from stratus.compute.models import Instance
from stratus.compute.records import wire
from stratus.compute.virt.libvirt.config import Boot, domain_xml
from stratus.compute.virt.libvirt.disks import CONSOLE, Disks
from stratus.compute.virt.libvirt.driver import UNDEFINE_FLAGS
from stratus.compute.virt.libvirt.host import Host
from stratus.host.dnsmasq import Dnsmasq
from stratus.host.netlink import Netlink
from stratus.runtime.config import Config
from stratus.runtime.parts import load_options
from stratus.runtime.process import Runtime
from stratus.testing.cloud import Cloud
from stratus.testing.network import missing_tools

SERVICES = ["identity", "image", "network", "compute"]
GUEST = "stratus-guest"  # tools/build-guest-image.sh, registered as make run registers it
FLAVOR = "1"  # m1.tiny
NETWORK = "bench-boot"
API_CIDR = "10.65.0.0/24"
RAW_CIDR = "10.66.0.0/24"
ACTIVE_POLL = 0.01
LEASE_POLL = 0.02
TIMEOUT = 180.0


@dataclass(frozen=True)
class Timing:
    prep: float  # API: until POST /servers returned; raw: overlay, tap, firewall, dnsmasq
    active: float  # API: POST -> ACTIVE; raw: define -> running
    lease: float  # to the DHCP lease, from the same start


def cloud_config(cloud: Cloud) -> Config:
    """The cloud's configuration, as its processes read it."""
    load_options()
    return Config(cloud.conf_path)


def wait_lease(lease_file: Path, mac: str) -> float:
    """The moment ``mac`` shows in the dnsmasq lease file."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            if mac.lower() in lease_file.read_text():
                return time.perf_counter()
        except FileNotFoundError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no DHCP lease for {mac} in {lease_file}")
        time.sleep(LEASE_POLL)


class ApiBoot:
    """Servers booted through the compute API of ``cloud``, as its admin."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.client = httpx.Client(headers={"X-Auth-Token": admin_token(cloud)}, timeout=60)
        self.image_id = self._call("GET", "image", f"/v2/images?name={GUEST}")["images"][0]["id"]
        network = self._call("POST", "network", "/v2.0/networks", network={"name": NETWORK})
        self.network = network["network"]
        subnet = {"network_id": self.network["id"], "cidr": API_CIDR, "ip_version": 4}
        self._call("POST", "network", "/v2.0/subnets", subnet=subnet)
        state = cloud.root / "data" / "network" / "dhcp"
        self.lease_file = Dnsmasq(state, self.network["id"]).lease_file

    def _call(self, method: str, service: str, path: str, **body: Any) -> Any:
        url = self.cloud.url(service) + path
        response = self.client.request(method, url, json=body or None)
        response.raise_for_status()
        return response.json() if response.content else None

    def boot(self, name: str) -> tuple[Timing, str]:
        server = {
            "name": name,
            "imageRef": self.image_id,
            "flavorRef": FLAVOR,
            "networks": [{"uuid": self.network["id"]}],
        }
        start = time.perf_counter()
        server_id = self._call("POST", "compute", "/v2.1/servers", server=server)["server"]["id"]
        posted = time.perf_counter()
        shown = self._wait_active(server_id)
        active = time.perf_counter()
        mac = shown["addresses"][NETWORK][0]["OS-EXT-IPS-MAC:mac_addr"]
        lease = wait_lease(self.lease_file, mac)
        return Timing(posted - start, active - start, lease - start), server_id

    def _wait_active(self, server_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while True:
            server = self._call("GET", "compute", f"/v2.1/servers/{server_id}")["server"]
            if server["status"] == "ACTIVE":
                return server
            if server["status"] == "ERROR" or time.monotonic() > deadline:
                raise RuntimeError(f"server {server_id} is {server['status']}: {server}")
            time.sleep(ACTIVE_POLL)

    def delete(self, server_id: str) -> None:
        self._call("DELETE", "compute", f"/v2.1/servers/{server_id}")
        deadline = time.monotonic() + TIMEOUT
        url = f"{self.cloud.url('compute')}/v2.1/servers/{server_id}"
        while self.client.get(url).status_code != 404:
            if time.monotonic() > deadline:
                raise RuntimeError(f"server {server_id} was not deleted")
            time.sleep(0.1)

    def record(self, server_id: str) -> dict[str, Any]:
        """What the compute agent was handed for the server (from the service's tables)."""
        db = Runtime(cloud_config(self.cloud)).database("compute")
        try:
            with db.session() as session:
                return wire(session.scalars(sa.select(Instance).filter_by(uuid=server_id)).one())
        finally:
            db.dispose()


class RawBoot:
    """The server's domain, defined and started directly with libvirt, beside the cloud."""

    def __init__(self, cloud: Cloud, template: dict[str, Any], mtu: int | None) -> None:
        self.token = "t" + secrets.token_hex(3)
        self.template = template
        self.mtu = mtu
        conf = cloud_config(cloud)
        self.host = Host(conf.libvirt.connection_uri, "auto")
        # The cloud's own image cache and overlay code; its first boot cached every image.
        instances = Path(conf.compute.instances_path)
        self.disks = Disks(instances, images=None)  # type: ignore[arg-type]
        self.hand = HandNetwork(self.token, cloud.root / "data" / "raw", RAW_CIDR)
        self.name = f"bench-{self.token}-raw"
        self.made: list[str] = []  # the servers' uuids whose disks this made

    def start(self) -> None:
        self.hand.start()
        self.host.conn.getVersion()  # connected before the clock runs, as the agent is

    def boot(self, index: int) -> Timing:
        server_id = str(uuid.uuid4())
        tap, mac = f"{self.token}r{index}", f"fa:16:3e:00:66:{index:02x}"
        instance = {**self.template, "uuid": server_id}
        start = time.perf_counter()
        self.made.append(server_id)
        disk = self.disks.create(
            server_id,
            instance["image_ref"],
            str(instance["image_properties"].get("disk_format") or "qcow2"),
            instance["flavor"]["root_gb"],
        )
        with Netlink() as host:
            host.ensure_tap(tap, mtu=self.mtu)
            host.attach(tap, self.hand.bridge)
        self.hand.serve(tap, mac, self.hand.address(index))
        xml = self._xml(instance, disk, [{"mac_address": mac, "devname": tap, "mtu": self.mtu}])
        defined = time.perf_counter()
        self.host.conn.defineXML(xml).create()
        running = time.perf_counter()
        lease = wait_lease(self.hand.dhcp.lease_file, mac)
        self.remove(tap)
        return Timing(defined - start, running - defined, lease - defined)

    def _xml(self, instance: dict[str, Any], disk: Path, vifs: list[dict[str, Any]]) -> str:
        """The driver's domain for ``instance``, under a name no compute agent claims."""
        boot = Boot(
            disk=disk,
            console_log=self.disks.instance_dir(instance["uuid"]) / CONSOLE,
            kernel=self.disks.cached(instance["kernel_id"]),
            ramdisk=self.disks.cached(instance["ramdisk_id"]),
        )
        domain = ET.fromstring(domain_xml(instance, boot, vifs, self.host.virt_type))
        name = domain.find("name")
        assert name is not None
        name.text = self.name
        return ET.tostring(domain, encoding="unicode")

    def remove(self, tap: str | None = None) -> None:
        """The domain, its disks and ``tap``; each step even if an earlier one failed."""
        try:
            remove_domain(self.host.conn, self.name)
        finally:
            with Netlink() as host:
                for name in [tap] if tap else host.link_names(self.token + "r"):
                    host.delete_link(name)
            while self.made:
                self.disks.remove(self.made.pop())

    def close(self) -> None:
        try:
            self.remove()
        finally:
            self.hand.close()


def remove_domain(conn: libvirt.virConnect, name: str) -> None:
    try:
        domain = conn.lookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return
        raise
    if domain.isActive():
        domain.destroy()
    domain.undefineFlags(UNDEFINE_FLAGS)


def warn_about_other_domains() -> None:
    conn = libvirt.open("qemu:///system")
    try:
        running = [d.name() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)]
    finally:
        conn.close()
    if running:
        print(f"warning: other domains run on this host (timings share the CPUs): {running}")


def summary(values: list[float]) -> list[float]:
    """Median, min and max."""
    return [statistics.median(values), min(values), max(values)]


def stats(values: list[float]) -> list[float]:
    """Median, min and max, in milliseconds."""
    return [value * 1000 for value in summary(values)]


def main() -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    missing = missing_tools() + [t for t in ("qemu-img", "virsh") if not shutil.which(t)]
    if missing:
        sys.exit(f"missing tools: {' '.join(missing)}")
    daemons = [str(ROOT / "tools/start-daemons.sh"), "virtlogd", "libvirtd"]
    subprocess.run(daemons, check=True, capture_output=True)
    warn_about_other_domains()
    api_runs: list[Timing] = []
    raw_runs: list[Timing] = []
    with running_cloud(SERVICES, default_images()) as cloud:
        api = ApiBoot(cloud)
        first, server_id = api.boot("first")
        raw = RawBoot(cloud, api.record(server_id), api.network.get("mtu") or None)
        api.delete(server_id)
        try:
            raw.start()
            for index in range(args.runs):
                timing, server_id = api.boot(f"boot{index}")
                api.delete(server_id)
                api_runs.append(timing)
                raw_runs.append(raw.boot(index))
        finally:
            raw.close()
        virt_type = raw.host.virt_type
    api_active, api_lease = stats([t.active for t in api_runs]), stats([t.lease for t in api_runs])
    raw_active, raw_lease = stats([t.active for t in raw_runs]), stats([t.lease for t in raw_runs])
    print_table(
        f"Boot through the compute API against libvirt directly ({args.runs} runs each, ms; "
        f"{virt_type}, the Stratus guest, m1.tiny, one NIC)",
        ["path", "median", "min", "max"],
        [
            ["API: POST /servers returned (202)", *stats([t.prep for t in api_runs])],
            ["API: POST -> ACTIVE", *api_active],
            ["API: POST -> DHCP lease", *api_lease],
            ["raw: overlay, tap, firewall, dnsmasq entry", *stats([t.prep for t in raw_runs])],
            ["raw: define -> running", *raw_active],
            ["raw: define -> DHCP lease", *raw_lease],
            ["ratio API / raw, to ACTIVE (running)", *ratios(api_active, raw_active)],
            ["ratio API / raw, to the lease", *ratios(api_lease, raw_lease)],
            ["ratio of each run's pair, to ACTIVE", *paired(api_runs, raw_runs, "active")],
            ["ratio of each run's pair, to the lease", *paired(api_runs, raw_runs, "lease")],
        ],
    )
    print(
        f"(first boot through the API, images downloaded into the host's cache: ACTIVE in "
        f"{first.active * 1000:,.0f} ms, lease in {first.lease * 1000:,.0f} ms; not counted)"
    )


def ratios(api: list[float], raw: list[float]) -> list[float]:
    return [a / r for a, r in zip(api, raw, strict=True)]


def paired(api: list[Timing], raw: list[Timing], field: str) -> list[float]:
    """Median, min and max of the ratios of each run's two boots, which ran one after the
    other: a load on the host that comes and goes weighs on both sides of a ratio."""
    return summary([getattr(a, field) / getattr(r, field) for a, r in zip(api, raw, strict=True)])


if __name__ == "__main__":
    main()
