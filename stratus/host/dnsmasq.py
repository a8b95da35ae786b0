"""One dnsmasq per network, serving static DHCP leases inside the network's namespace.

Each network's files live in ``STATE_DIR/<network id>/``: the pid file, the hosts file
(one line per port: MAC, addresses, hostname), the options file (router, DNS servers, host
routes, MTU per subnet), the lease file and a log. The hosts and options files are
re-read on SIGHUP, so port and subnet option changes never restart dnsmasq; only a change
of what it listens on or which ranges it serves does. IPv4 leases of removed host entries
are released (``dhcp_release``), so a fixed address can move to another port at once.
dnsmasq drops to ``nobody`` after starting, so the state directory must be traversable by
that user (mode 0755).

The process is found through its pid file and checked against its command line before
any signal is sent to it: never by name.
"""

from __future__ import annotations

import ipaddress
import os
import select
import shutil
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from stratus.host import commands
from stratus.host.errors import HostError

DHCPV6_STATEFUL = "dhcpv6-stateful"
DHCPV6_STATELESS = "dhcpv6-stateless"
_MAX_LEASES = 2**24
_STOP_SECONDS = 5.0


@dataclass(frozen=True)
class HostRoute:
    destination: str
    nexthop: str


@dataclass(frozen=True)
class Subnet:
    """A subnet served by DHCP. IPv6 subnets are served only in the DHCPv6 modes:
    stateful gives addresses, stateless only options; SLAAC subnets are left out."""

    cidr: str
    gateway_ip: str | None = None
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[HostRoute, ...] = ()
    ipv6_address_mode: str | None = None


@dataclass(frozen=True)
class DhcpConfig:
    """Where and what a network's dnsmasq serves. ``interface`` is the DHCP port inside
    ``namespace``; it must already have an address in every IPv4 and DHCPv6 subnet."""

    namespace: str
    interface: str
    subnets: tuple[Subnet, ...]
    mtu: int | None = None
    lease_seconds: int = 86400


@dataclass(frozen=True)
class Host:
    """A port that gets its fixed addresses by DHCP."""

    mac_address: str
    ip_addresses: tuple[str, ...]
    hostname: str | None = None


class Dnsmasq:
    """The DHCP server of one network."""

    def __init__(self, state_dir: str | Path, network_id: str) -> None:
        self.dir = Path(state_dir) / network_id
        self.pid_file = self.dir / "pid"
        self.hosts_file = self.dir / "hosts"
        self.options_file = self.dir / "opts"
        self.lease_file = self.dir / "leases"
        self.log_file = self.dir / "log"

    def command(self, config: DhcpConfig) -> list[str]:
        """The dnsmasq command line for ``config`` (pure)."""
        served = _served(config.subnets)
        argv = [
            "dnsmasq",
            "--conf-file=/dev/null",
            "--no-hosts",
            "--no-resolv",
            "--port=0",  # DHCP only: instances use the subnet's DNS servers
            f"--pid-file={self.pid_file}",
            f"--dhcp-hostsfile={self.hosts_file}",
            f"--dhcp-optsfile={self.options_file}",
            f"--dhcp-leasefile={self.lease_file}",
            f"--log-facility={self.log_file}",
            f"--interface={config.interface}",
            "--bind-interfaces",
            "--except-interface=lo",
        ]
        leases = 0
        for tag, subnet in served:
            net = ipaddress.ip_network(subnet.cidr)
            mask = net.netmask if net.version == 4 else net.prefixlen
            argv.append(
                f"--dhcp-range=set:{tag},{net.network_address},static,{mask},"
                f"{config.lease_seconds}s"
            )
            leases += net.num_addresses
        argv.append(f"--dhcp-lease-max={max(1, min(leases, _MAX_LEASES))}")
        return argv

    def ensure(self, config: DhcpConfig, hosts: Iterable[Host]) -> None:
        """Serve ``config`` and exactly ``hosts``: start dnsmasq, reload it with SIGHUP when
        only hosts or options changed, or restart it when its command line changed."""
        hosts = tuple(hosts)  # read twice: for the hosts file and for stale leases
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        changed = _write(self.hosts_file, hosts_file(config, hosts))
        changed |= _write(self.options_file, options_file(config))
        argv = self.command(config)
        pid = self.pid
        if pid is not None and _cmdline(pid) == argv:
            if changed:
                os.kill(pid, signal.SIGHUP)
        else:
            if pid is not None:
                _terminate(pid)
            commands.run(argv, namespace=config.namespace)
        self._release_stale_leases(config, hosts)

    def _release_stale_leases(self, config: DhcpConfig, hosts: Iterable[Host]) -> None:
        """Release IPv4 leases no host entry backs any more.

        dnsmasq will not hand a fixed address to a new MAC while an old lease of it lasts,
        so a port's address moved to another port would otherwise wait a lease time.
        """
        wanted = {(h.mac_address.lower(), ip) for h in hosts for ip in h.ip_addresses}
        for mac, ip in _ipv4_leases(self.lease_file):
            if (mac, ip) not in wanted:
                commands.run(
                    ["dhcp_release", config.interface, ip, mac], namespace=config.namespace
                )

    def stop(self) -> None:
        """Stop dnsmasq if it runs and delete the network's files."""
        pid = self.pid
        if pid is not None:
            _terminate(pid)
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def pid(self) -> int | None:
        """The pid of this network's running dnsmasq, or None."""
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        cmdline = _cmdline(pid)
        if cmdline and cmdline[0].endswith("dnsmasq") and f"--pid-file={self.pid_file}" in cmdline:
            return pid
        return None


def running_networks(state_dir: str | Path) -> list[str]:
    """Ids of the networks whose dnsmasq runs now (for reconciliation)."""
    root = Path(state_dir)
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if Dnsmasq(root, d.name).pid is not None)


def hosts_file(config: DhcpConfig, hosts: Iterable[Host]) -> str:
    """``--dhcp-hostsfile`` lines: ``mac,ipv4,[ipv6],hostname`` (pure).

    Only addresses in subnets dnsmasq hands out addresses for are listed.
    """
    nets = [
        ipaddress.ip_network(s.cidr)
        for _, s in _served(config.subnets)
        if ipaddress.ip_network(s.cidr).version == 4 or s.ipv6_address_mode == DHCPV6_STATEFUL
    ]
    lines = []
    for host in sorted(hosts, key=lambda h: h.mac_address.lower()):
        addresses = [
            ipaddress.ip_address(a)
            for a in host.ip_addresses
            if any(ipaddress.ip_address(a) in net for net in nets)
        ]
        if not addresses:
            continue
        fields = [host.mac_address.lower()]
        fields += [str(a) if a.version == 4 else f"[{a}]" for a in addresses]
        if host.hostname:
            fields.append(host.hostname)
        lines.append(",".join(fields))
    return "".join(line + "\n" for line in lines)


def options_file(config: DhcpConfig) -> str:
    """``--dhcp-optsfile`` lines, one set per subnet tag (pure)."""
    lines = []
    for tag, subnet in _served(config.subnets):
        if ipaddress.ip_network(subnet.cidr).version == 6:
            if subnet.dns_nameservers:
                servers = ",".join(f"[{s}]" for s in subnet.dns_nameservers)
                lines.append(f"tag:{tag},option6:dns-server,{servers}")
            continue
        # An empty router option tells dnsmasq not to offer itself as the router.
        gateway = f",{subnet.gateway_ip}" if subnet.gateway_ip else ""
        lines.append(f"tag:{tag},option:router{gateway}")
        if subnet.dns_nameservers:
            lines.append(f"tag:{tag},option:dns-server,{','.join(subnet.dns_nameservers)}")
        if subnet.host_routes:
            # A client given option 121 ignores option 3, so the default route goes in too.
            routes = [(r.destination, r.nexthop) for r in subnet.host_routes]
            if subnet.gateway_ip:
                routes.append(("0.0.0.0/0", subnet.gateway_ip))
            pairs = ",".join(f"{dst},{hop}" for dst, hop in routes)
            lines.append(f"tag:{tag},option:classless-static-route,{pairs}")
        if config.mtu:
            lines.append(f"tag:{tag},option:mtu,{config.mtu}")
    return "".join(line + "\n" for line in lines)


def _ipv4_leases(lease_file: Path) -> list[tuple[str, str]]:
    """(MAC, address) of the IPv4 leases in a dnsmasq lease file."""
    try:
        lines = lease_file.read_text().splitlines()
    except FileNotFoundError:
        return []
    leases = []
    for line in lines:
        fields = line.split()  # expiry MAC address hostname client-id; IPv6 lines differ
        if len(fields) >= 3 and fields[2].count(".") == 3:
            leases.append((fields[1].lower(), fields[2]))
    return leases


def _served(subnets: Iterable[Subnet]) -> list[tuple[str, Subnet]]:
    """The subnets dnsmasq serves, each with its tag."""
    served = [
        s
        for s in subnets
        if ipaddress.ip_network(s.cidr).version == 4
        or s.ipv6_address_mode in (DHCPV6_STATEFUL, DHCPV6_STATELESS)
    ]
    return [(f"subnet-{i}", s) for i, s in enumerate(served)]


def _write(path: Path, text: str) -> bool:
    """Replace a file atomically if its text differs; True when it did."""
    try:
        if path.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    scratch = path.with_name(path.name + ".new")
    scratch.write_text(text)
    scratch.chmod(0o644)
    os.replace(scratch, path)
    return True


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return raw.decode(errors="replace").split("\0")[:-1]


def _terminate(pid: int) -> None:
    """SIGTERM, then wait for the exit on a pidfd (no polling); SIGKILL if it lingers."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                signal.pidfd_send_signal(fd, sig)
            except ProcessLookupError:
                return
            if select.select([fd], [], [], _STOP_SECONDS)[0]:
                return
        raise HostError(f"dnsmasq {pid} did not exit")
    finally:
        os.close(fd)
