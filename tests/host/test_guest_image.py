"""The Stratus guest image boots under TCG through libvirt and gets its address by DHCP.

tools/build-guest-image.sh builds the image; each test then wires a private LAN (a bridge
with no address on the host, a namespace veth'd to it running dnsmasq with one static
lease), boots a transient libvirt domain of type ``qemu`` on it, waits for the guest's
lease and banner on its serial console log, and pings the guest from the namespace.

Everything a test creates (domain, bridge, veth, namespace, dnsmasq, iptables rule, files)
is removed by fixture finalizers, also when the test fails. These tests need root, libvirt,
QEMU, dnsmasq and the guest kernel: where one is missing they fail, they do not skip.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import libvirt
import pytest

ROOT = Path(__file__).resolve().parents[2]
BOOT_TIMEOUT = 90.0  # seconds to the lease and banner; about 4 s on an idle machine
SUBNET = "192.0.2"  # TEST-NET-1: lives only inside the namespace and the test bridge
GUEST_IP = f"{SUBNET}.10"
SERVER_IP = f"{SUBNET}.1"
GUEST_NAME = "stratus-test-vm"
GUEST_MTU = 1450

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors arrive as exceptions


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"`{' '.join(cmd)}` exited {proc.returncode}: {proc.stderr.strip() or proc.stdout}"
        )
    return proc


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """A directory QEMU (user libvirt-qemu) can traverse, unlike pytest's 0700 tmp dirs."""
    path = Path(tempfile.mkdtemp(prefix="stratus-guest-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def guest_image(workdir: Path) -> dict:
    """Build the guest with the real script; return its manifest (with absolute paths)."""
    out = workdir / "image"
    proc = subprocess.run(
        [str(ROOT / "tools/build-guest-image.sh"), str(out)], capture_output=True, text=True
    )
    assert proc.returncode == 0, f"build-guest-image.sh failed:\n{proc.stdout}\n{proc.stderr}"
    manifest = json.loads((out / "stratus-guest.json").read_text())
    for image in manifest["images"]:
        path = out / image["file"]
        assert path.stat().st_size == image["size"], image["file"]
        image["path"] = str(path)
    out.chmod(0o755)
    return manifest


@pytest.fixture(scope="module")
def libvirt_conn() -> Iterator[libvirt.virConnect]:
    proc = subprocess.run(
        [str(ROOT / "tools/start-daemons.sh"), "virtlogd", "libvirtd"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"start-daemons.sh failed:\n{proc.stdout}\n{proc.stderr}"
    conn = libvirt.open("qemu:///system")
    yield conn
    conn.close()


@dataclass
class Lan:
    bridge: str
    netns: str
    guest_mac: str
    dnsmasq_log: Path

    def ping(self, address: str) -> bool:
        ping = ("ping", "-c", "1", "-W", "1", address)
        return run("ip", "netns", "exec", self.netns, *ping, check=False).returncode == 0


@pytest.fixture
def lan(workdir: Path) -> Iterator[Lan]:
    """A bridge, and a namespace veth'd to it where dnsmasq leases GUEST_IP to one MAC."""
    tag = secrets.token_hex(3)
    bridge, veth_host, veth_ns = f"stgbr{tag}", f"stgvh{tag}", f"stgvn{tag}"
    netns = f"stratus-test-{tag}"
    mac = "52:54:00:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))
    state = workdir / f"lan-{tag}"
    state.mkdir()
    undo: list[Callable[[], object]] = []
    dnsmasq: subprocess.Popen | None = None
    try:
        run("ip", "link", "add", bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0")
        undo.append(lambda: run("ip", "link", "del", bridge, check=False))
        # The host takes no part in this LAN: no IPv4 address, and no IPv6 either.
        ipv6 = Path(f"/proc/sys/net/ipv6/conf/{bridge}/disable_ipv6")
        if ipv6.exists():
            ipv6.write_text("1")
        run("ip", "link", "set", bridge, "up")

        run("ip", "netns", "add", netns)
        undo.append(lambda: run("ip", "netns", "del", netns, check=False))
        run("ip", "link", "add", veth_host, "type", "veth", "peer", "name", veth_ns)
        undo.append(lambda: run("ip", "link", "del", veth_host, check=False))
        run("ip", "link", "set", veth_ns, "netns", netns)
        run("ip", "link", "set", veth_host, "master", bridge, "up")
        ns = ("ip", "netns", "exec", netns)
        run(*ns, "ip", "addr", "add", f"{SERVER_IP}/24", "dev", veth_ns)
        run(*ns, "ip", "link", "set", veth_ns, "up")
        run(*ns, "ip", "link", "set", "lo", "up")

        # Once Docker runs, bridged frames traverse iptables FORWARD (policy DROP): let this
        # bridge's own traffic through, in the chain Docker leaves for such rules.
        has_docker_user = run("iptables", "-n", "-L", "DOCKER-USER", check=False).returncode == 0
        chain = "DOCKER-USER" if has_docker_user else "FORWARD"
        rule = ("-i", bridge, "-o", bridge, "-m", "comment", "--comment", "stratus-test")
        rule += ("-j", "ACCEPT")
        run("iptables", "-I", chain, "1", *rule)
        undo.append(lambda: run("iptables", "-D", chain, *rule, check=False))

        hosts = state / "dhcp-hosts"
        hosts.write_text(f"{mac},{GUEST_IP},{GUEST_NAME},infinite\n")
        log = state / "dnsmasq.log"
        pidfile = state / "dnsmasq.pid"
        options = [
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--user=root",
            "--port=0",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            f"--interface={veth_ns}",
            "--except-interface=lo",
            f"--dhcp-range={SUBNET}.0,static,255.255.255.0,1h",
            f"--dhcp-hostsfile={hosts}",
            f"--dhcp-leasefile={state / 'leases'}",
            f"--dhcp-option=option:router,{SERVER_IP}",
            f"--dhcp-option=option:dns-server,{SERVER_IP}",
            f"--dhcp-option=option:mtu,{GUEST_MTU}",
            "--log-dhcp",
            f"--log-facility={log}",
            f"--pid-file={pidfile}",
        ]
        dnsmasq = subprocess.Popen(
            [*ns, "dnsmasq", *options], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        # dnsmasq writes its pid file once it has bound its sockets.
        ready = wait_for(lambda: pidfile.exists() or dnsmasq.poll() is not None, 10)
        if not ready or dnsmasq.poll() is not None:
            err = dnsmasq.stderr.read().decode() if dnsmasq.poll() is not None else "timeout"
            raise AssertionError(f"dnsmasq did not start in {netns}: {err}")
        yield Lan(bridge=bridge, netns=netns, guest_mac=mac, dnsmasq_log=log)
    finally:
        if dnsmasq is not None and dnsmasq.poll() is None:
            dnsmasq.terminate()
            try:
                dnsmasq.wait(5)
            except subprocess.TimeoutExpired:
                dnsmasq.kill()
                dnsmasq.wait(5)
        for action in reversed(undo):
            action()


@dataclass
class Boot:
    domain: libvirt.virDomain
    console_log: Path
    started: float
    start_seconds: float  # createXML: libvirt defines and starts the domain

    def kernel_seconds(self, text: str) -> float | None:
        """The guest kernel's own timestamp of the console line holding `text`."""
        match = re.search(r"^\[\s*(\d+\.\d+)\] .*" + re.escape(text), self.console(), re.M)
        return float(match.group(1)) if match else None

    def console(self) -> str:
        try:
            return self.console_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_console(self, text: str, timeout: float) -> float | None:
        """Seconds from the start of the domain until `text` is on the console, or None."""
        if wait_for(lambda: text in self.console(), timeout):
            return time.monotonic() - self.started
        return None


@pytest.fixture
def boot_guest(
    libvirt_conn: libvirt.virConnect, guest_image: dict, lan: Lan, workdir: Path
) -> Iterator[Callable[[str], Boot]]:
    """Start a transient domain of type qemu (TCG) on the LAN: boot="kernel" boots the
    kernel and initrd directly (kernel_id/ramdisk_id), boot="disk" boots the qcow2 alone."""
    domains: list[libvirt.virDomain] = []
    images = {image["file"].rsplit(".", 1)[1]: image for image in guest_image["images"]}

    def start(boot: str) -> Boot:
        tag = secrets.token_hex(3)
        name = f"stratus-test-{tag}"
        disk = workdir / f"{name}.qcow2"
        base = images["qcow2"]["path"]
        run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, str(disk))
        console_log = workdir / f"{name}.console.log"
        if boot == "kernel":
            cmdline = images["qcow2"]["properties"]["os_command_line"]
            kernel = (
                f"<kernel>{images['vmlinuz']['path']}</kernel>"
                f"<initrd>{images['initrd']['path']}</initrd><cmdline>{cmdline}</cmdline>"
            )
        else:
            kernel = "<boot dev='hd'/>"
        xml = f"""
<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>{kernel}</os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='bridge'>
      <source bridge='{lan.bridge}'/>
      <mac address='{lan.guest_mac}'/>
      <model type='virtio'/>
      <target dev='stgtp{tag}'/>
    </interface>
    <serial type='file'>
      <source path='{console_log}'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>"""
        started = time.monotonic()
        domain = libvirt_conn.createXML(xml, 0)
        domains.append(domain)
        return Boot(domain, console_log, started, time.monotonic() - started)

    yield start
    for domain in domains:
        try:
            domain.destroy()
        except libvirt.libvirtError as e:
            if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                raise


@pytest.mark.parametrize("boot", ["kernel", "disk"])
def test_guest_boots_gets_lease_and_answers_ping(
    boot: str, boot_guest: Callable[[str], Boot], lan: Lan, record_property
) -> None:
    guest = boot_guest(boot)

    def context() -> str:
        dhcp = lan.dnsmasq_log.read_text() if lan.dnsmasq_log.exists() else ""
        return f"\n--- console ---\n{guest.console()[-3000:]}\n--- dnsmasq ---\n{dhcp[-1500:]}"

    lease_line = f"udhcpc: eth0 lease {GUEST_IP}/24 router {SERVER_IP}"
    to_lease = guest.wait_console(lease_line, BOOT_TIMEOUT)
    assert to_lease is not None, f"no DHCP lease on the console in {BOOT_TIMEOUT}s{context()}"
    to_banner = guest.wait_console("=== stratus-guest ready ===", 30)
    assert to_banner is not None, f"no banner on the console{context()}"
    console = guest.console()
    assert f"hostname: {GUEST_NAME}" in console, context()
    assert f"eth0: {GUEST_IP}/24 mac {lan.guest_mac} mtu {GUEST_MTU}" in console, context()
    assert wait_for(lambda: "login:" in guest.console(), 30), f"no login prompt{context()}"
    assert "DHCPACK" in lan.dnsmasq_log.read_text(), context()

    assert wait_for(lambda: lan.ping(GUEST_IP), 15, 0.2), f"{GUEST_IP} does not answer{context()}"

    record_property("seconds_to_lease", round(to_lease, 2))
    record_property("seconds_to_banner", round(to_banner, 2))
    to_init = guest.kernel_seconds("Run /init")
    print(
        f"\n[{boot} boot under TCG] libvirt start {guest.start_seconds:.2f}s; kernel reached"
        f" /init at {to_init}s of its own clock; lease after {to_lease:.2f}s,"
        f" banner after {to_banner:.2f}s (from before the start)"
    )

    # The ACPI power button (virsh shutdown, nova stop) powers the guest off.
    guest.domain.shutdown()

    def gone() -> bool:
        try:
            return not guest.domain.isActive()
        except libvirt.libvirtError:
            return True  # a transient domain disappears once it is off

    assert wait_for(gone, 30, 0.2), f"the guest ignored the ACPI power button{context()}"
    assert "power button pressed" in guest.console(), context()


def test_manifest_describes_the_images(guest_image: dict) -> None:
    images = {image["name"]: image for image in guest_image["images"]}
    assert set(images) == {"stratus-guest", "stratus-guest-kernel", "stratus-guest-ramdisk"}
    disk = images["stratus-guest"]
    assert (disk["disk_format"], disk["container_format"]) == ("qcow2", "bare")
    assert disk["properties"]["kernel_id"] == "stratus-guest-kernel"
    assert disk["properties"]["ramdisk_id"] == "stratus-guest-ramdisk"
    assert images["stratus-guest-kernel"]["disk_format"] == "aki"
    assert images["stratus-guest-ramdisk"]["disk_format"] == "ari"
    for image in images.values():
        assert len(image["sha256"]) == 64
        proc = run("sha256sum", image["path"])
        assert proc.stdout.split()[0] == image["sha256"], image["name"]
    info = json.loads(run("qemu-img", "info", "--output=json", disk["path"]).stdout)
    assert info["format"] == "qcow2"
    assert info["virtual-size"] == disk["virtual_size"]
    assert os.path.getsize(images["stratus-guest-ramdisk"]["path"]) < 8 * 2**20
