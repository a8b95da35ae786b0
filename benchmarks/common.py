"""What the benchmarks share: a temporary all-in-one cloud, timing and table printing."""

from __future__ import annotations

import ipaddress
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from stratus.host import dnsmasq, firewall, namespaces
from stratus.host.names import bridge_name
from stratus.host.netlink import Netlink
from stratus.network.agent import devices
from stratus.testing.cloud import Cloud

ROOT = Path(__file__).resolve().parents[1]
# What `make run` builds and bootstrap registers: (script, folder under build/images, manifest).
DEFAULT_IMAGES = (
    ("build-guest-image.sh", "guest", "stratus-guest.json"),
    ("build-container-image.sh", "busybox", "busybox.json"),
)


@contextmanager
def running_cloud(
    services: list[str] | None = None,
    image_manifests: list[Path] | None = None,
    config: str = "",
) -> Iterator[Cloud]:
    """An all-in-one cloud in a temporary directory (with the images of
    ``image_manifests`` registered, and ``config`` added to its configuration), stopped
    and removed afterwards, with everything it made on the host."""
    with tempfile.TemporaryDirectory(prefix="stratus-bench-") as root:
        if config:
            (Path(root) / "stratus.conf.d").mkdir()
            (Path(root) / "stratus.conf.d" / "50-bench.conf").write_text(config)
        cloud = Cloud.create(Path(root), services=services, image_manifests=image_manifests)
        try:
            cloud.start()  # inside: a cloud that started half-way is cleaned up too
            yield cloud
        finally:
            cloud.destroy()


def default_images() -> list[Path]:
    """The default images (the guest VM and busybox), built or found up to date where
    ``make run`` builds them; their manifests, for :func:`running_cloud`."""
    manifests = []
    for script, folder, manifest in DEFAULT_IMAGES:
        out = ROOT / "build" / "images" / folder
        built = subprocess.run([ROOT / "tools" / script, out], capture_output=True, text=True)
        if built.returncode != 0:
            sys.exit(f"{script} failed:\n{built.stdout}{built.stderr}")
        manifests.append(out / manifest)
    return manifests


def admin_token(cloud: Cloud) -> str:
    return cloud.admin_token()


@dataclass(frozen=True)
class Rate:
    per_second: float
    p50_ms: float
    p99_ms: float


def measure(operation: Callable[[httpx.Client], None], *, concurrency: int, count: int) -> Rate:
    """Run ``operation`` ``count`` times over ``concurrency`` threads, each with its own
    HTTP connection; the rate and latency percentiles."""
    per_worker = max(1, count // concurrency)

    def worker(_: int) -> list[float]:
        latencies = []
        with httpx.Client(timeout=60) as client:
            for _ in range(per_worker):
                start = time.perf_counter()
                operation(client)
                latencies.append(time.perf_counter() - start)
        return latencies

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = [value for chunk in pool.map(worker, range(concurrency)) for value in chunk]
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Rate(
        per_second=len(latencies) / elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    )


class HandNetwork:
    """A network wired by hand, the baseline of the host benchmarks: a bridge, and dnsmasq
    in a namespace of its own on a veth into it (at ``.2`` of ``cidr``); :meth:`serve` adds
    a port: its security group chains in one firewall batch (ingress from its group, egress
    anywhere) and its dnsmasq host entry (SIGHUP). Everything carries ``token`` (or, for
    the bridge, a network id of its own) and :meth:`close` removes it."""

    GROUP = {"g": (firewall.Rule("ingress", remote_group_id="g"), firewall.Rule("egress"))}

    def __init__(self, token: str, state_dir: Path, cidr: str) -> None:
        self.token = token
        self.network_id = str(uuid.uuid4())
        self.bridge = bridge_name(self.network_id)
        self.subnet = ipaddress.ip_network(cidr)
        self.dhcp = dnsmasq.Dnsmasq(state_dir / "by-hand", self.network_id)
        self.config = dnsmasq.DhcpConfig(
            f"{token}-hand-dhcp",
            "ns-hand",
            (dnsmasq.Subnet(cidr, str(self.subnet[1])),),
        )
        self.ports: list[firewall.Port] = []
        self.hosts: list[dnsmasq.Host] = []

    def start(self) -> None:
        namespaces.create(self.config.namespace)
        with Netlink() as host:
            host.ensure_bridge(self.bridge)
            devices.wire_veth(
                host,
                self.bridge,
                f"{self.token}hd",
                self.config.interface,
                namespace=self.config.namespace,
                mac="fa:16:3e:00:00:02",
                mtu=None,
                addresses=[f"{self.subnet[2]}/{self.subnet.prefixlen}"],
            )
        self.dhcp.ensure(self.config, [])

    def address(self, index: int) -> str:
        """The fixed address of the ``index``-th port."""
        return str(self.subnet[10 + index])

    def serve(self, device: str, mac: str, address: str) -> None:
        """Let ``device`` (in the bridge) through the firewall and give ``mac`` its lease."""
        self.ports.append(
            firewall.Port(device, self.network_id, mac, (address,), security_groups=("g",))
        )
        members = {"g": tuple(a for p in self.ports for a in p.fixed_ips)}
        firewall.apply(
            firewall.Ruleset(tuple(self.ports), self.GROUP, members), prefix=self.token + "h"
        )
        self.hosts.append(dnsmasq.Host(mac, (address,)))
        self.dhcp.ensure(self.config, self.hosts)

    def close(self) -> None:
        """Remove everything, each step even if an earlier one failed."""
        try:
            self.dhcp.stop()
        finally:
            try:
                firewall.remove_all(prefix=self.token + "h")
            finally:
                with Netlink() as host:
                    host.delete_link(self.bridge)
                namespaces.delete(self.config.namespace)


def exit_on_sigterm() -> None:
    """Turn SIGTERM (a timeout's, a supervisor's) into SystemExit, so that a benchmark that
    is stopped still runs its clean-up of the host. A forked child that gets the signal too
    (``timeout`` signals the whole group; pyroute2 forks to enter namespaces) just exits: the
    clean-up is the benchmark's, not a copy's."""
    owner = os.getpid()

    def stop(*_: object) -> None:
        if os.getpid() != owner:
            os._exit(128 + signal.SIGTERM)
        sys.exit(128 + signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)


def print_table(title: str, headers: list[str], rows: list[list[object]]) -> None:
    cells = [headers, *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(headers))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"
    return str(value)
