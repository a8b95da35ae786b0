"""``stratus demo``: the scenario Stratus exists for, run against a running cloud with the
real ``openstack`` client, each command printed as a user would type it.

As the demo project: a network and subnet, a VM on it (the default guest image), a
security group rule for ICMP, a container on the same network that pings the VM, a second
container whose whole job is to ping the VM (its logs show the replies), and the VM
pinging the first container back (typed on its serial console, through the console
proxy); then everything is deleted again (unless ``--keep``). Returns non-zero if a step
fails or a ping gets no reply.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

CLOUD = "stratus-demo"
GUEST_IMAGE = "stratus-guest"
CONTAINER_IMAGE = "busybox"
_LOSS = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_EXIT = re.compile(rb"RESULT:(\d+)")


class DemoFailed(RuntimeError):
    """A step of the demo did not do what it should; the message says which."""


class Client:
    """The ``openstack`` command beside this Python, on the demo project's cloud entry."""

    def __init__(self, clouds_yaml: Path | None, echo: Callable[[str], None]) -> None:
        self.command = str(Path(sys.executable).parent / "openstack")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        if clouds_yaml is not None:
            self.env["OS_CLIENT_CONFIG_FILE"] = str(clouds_yaml)
        self.echo = echo

    def run(self, *args: str, show: bool = True) -> str:
        if show:
            self.echo("$ openstack --os-cloud " + CLOUD + " " + shlex.join(args))
        result = subprocess.run(
            [self.command, "--os-cloud", CLOUD, *args],
            capture_output=True,
            text=True,
            env=self.env,
            stdin=subprocess.DEVNULL,
            timeout=300,
        )
        if result.returncode != 0:
            raise DemoFailed(f"openstack {shlex.join(args)} failed: {result.stderr.strip()}")
        if show and result.stdout.strip():
            self.echo(_indent(result.stdout))
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-f", "json", show=False))

    def field(self, *args: str, column: str) -> str:
        return self.run(*args, "-f", "value", "-c", column, show=False).strip()


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines())


def received(output: str) -> tuple[int, int]:
    """(transmitted, received) from ping's summary line; (0, 0) if it has none."""
    match = _LOSS.search(output)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def guest_command(url: str, command: str, timeout: float = 60) -> str:
    """Log in as root on the guest's serial console (a websocket URL from the console
    proxy), run ``command`` and return what it printed."""
    from websockets.sync.client import connect

    deadline = time.monotonic() + timeout
    with connect(url, subprotocols=["binary"]) as ws:  # type: ignore[list-item]

        def read_until(pattern: re.Pattern[bytes]) -> bytes:
            seen = b""
            while not pattern.search(seen):
                if time.monotonic() > deadline:
                    raise DemoFailed(f"the guest's console never showed {pattern.pattern!r}")
                try:
                    message = ws.recv(timeout=1)
                except TimeoutError:
                    continue
                seen += message if isinstance(message, bytes) else message.encode()
            return seen

        ws.send(b"\n")
        if b"login:" in read_until(re.compile(rb"login: |# ")):
            ws.send(b"root\n")
            read_until(re.compile(rb"# "))
        ws.send(f"{command}; echo RESULT:$?\n".encode())
        output = read_until(_EXIT).decode(errors="replace")
    body = output.split("\n", 1)[-1]  # past the echo of the command itself
    return body[: body.rfind("RESULT:")].replace("\r", "").strip()


def _wait(what: str, check: Callable[[], bool], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise DemoFailed(f"timed out waiting for {what}")
        time.sleep(1)


class Demo:
    def __init__(self, client: Client, echo: Callable[[str], None]) -> None:
        self.client = client
        self.echo = echo
        suffix = uuid.uuid4().hex[:6]
        self.net, self.sub = f"demo-net-{suffix}", f"demo-sub-{suffix}"
        self.vm, self.con, self.pinger = f"vm1-{suffix}", f"con1-{suffix}", f"pinger-{suffix}"
        self.rule: str | None = None
        self.made: list[tuple[str, ...]] = []  # delete commands, in the order to run them

    def step(self, title: str) -> None:
        self.echo(f"\n==> {title}")

    def run(self) -> list[tuple[str, int, int]]:
        """The scenario; returns (what pinged what, transmitted, received) per ping."""
        c = self.client
        self.step("a tenant network for VMs and containers alike")
        c.run("network", "create", self.net, "-f", "value", "-c", "id")
        self.made.insert(0, ("network", "delete", self.net))
        c.run("subnet", "create", "--network", self.net, "--subnet-range", "10.20.0.0/24",
              self.sub, "-f", "value", "-c", "cidr")  # fmt: skip
        self.allow_icmp()

        self.step("a virtual machine on it (QEMU under libvirt)")
        c.run("server", "create", "--image", GUEST_IMAGE, "--flavor", "m1.tiny",
              "--network", self.net, "--wait", self.vm, "-f", "value", "-c", "status")  # fmt: skip
        self.made.insert(0, ("server", "delete", "--wait", self.vm))
        vm_ip = self.address(c.json("server", "show", self.vm)["addresses"])
        self.echo(f"    {self.vm} has {vm_ip}")
        _wait(f"{self.vm}'s DHCP lease", lambda: f"lease {vm_ip}/" in self.console())

        self.step("a container on the same network (Docker, wired by the Stratus plugin)")
        self.container(self.con, "sleep", "3600")
        con_ip = self.address(c.json("appcontainer", "show", self.con)["addresses"])
        self.echo(f"    {self.con} has {con_ip}")

        results = []
        self.step(f"the container pings the VM at {vm_ip}")
        output = c.run("appcontainer", "exec", self.con, "ping", "-c", "3", vm_ip)
        results.append((f"{self.con} -> {self.vm}", *received(output)))

        self.step("a container whose whole job is to ping the VM")
        self.container(self.pinger, "ping", "-c", "4", vm_ip, until="Stopped")
        output = c.run("appcontainer", "logs", self.pinger)
        results.append((f"{self.pinger} -> {self.vm}", *received(output)))

        self.step(f"the VM pings the container at {con_ip} (typed on its serial console)")
        url = c.field("console", "url", "show", "--serial", self.vm, column="url")
        output = guest_command(url, f"ping -c 3 {con_ip}")
        self.echo(_indent(output))
        results.append((f"{self.vm} -> {self.con}", *received(output)))

        self.step("every port of the network: the VM's and the containers', all ACTIVE")
        c.run("port", "list", "--network", self.net, "-c", "Fixed IP Addresses", "-c", "Status")
        return results

    def allow_icmp(self) -> None:
        c = self.client
        rules = c.json("security", "group", "rule", "list", "default", "--protocol", "icmp",
                       "--ingress")  # fmt: skip
        if not rules:
            self.rule = c.field("security", "group", "rule", "create", "--protocol", "icmp",
                                "default", column="id")  # fmt: skip
            self.echo("$ openstack --os-cloud stratus-demo security group rule create "
                      "--protocol icmp default")  # fmt: skip

    def container(self, name: str, *command: str, until: str = "Running") -> None:
        # (the output options go before the image: what follows it is the command)
        self.client.run("appcontainer", "run", "-f", "value", "-c", "uuid", "--name", name,
                        "--net", f"network={self.net}", "--image-driver", "glance",
                        CONTAINER_IMAGE, *command)  # fmt: skip
        self.made.insert(0, ("appcontainer", "delete", "--force", name))

        def status() -> str:
            return self.client.field("appcontainer", "show", name, column="status")

        _wait(f"{name} to be {until}", lambda: status() in (until, "Error"))
        if status() == "Error":
            reason = self.client.field("appcontainer", "show", name, column="status_reason")
            raise DemoFailed(f"{name} failed: {reason}")

    def exists(self, container: str) -> bool:
        try:
            self.client.run("appcontainer", "show", container, show=False)
        except DemoFailed:
            return False
        return True

    def console(self) -> str:
        return self.client.run("console", "log", "show", self.vm, show=False)

    @staticmethod
    def address(addresses: Any) -> str:
        found = re.findall(r"\d+\.\d+\.\d+\.\d+", json.dumps(addresses))
        if not found:
            raise DemoFailed(f"no IPv4 address in {addresses}")
        return found[0]

    def clean(self) -> None:
        self.step("cleaning up")
        for args in self.made:
            try:
                self.client.run(*args)
                if args[0] == "appcontainer":  # deleted in the background: wait for it
                    _wait(f"{args[-1]} to go", lambda name=args[-1]: not self.exists(name))
            except DemoFailed as exc:
                self.echo(f"    {exc}")
        if self.rule:
            self.client.run("security", "group", "rule", "delete", self.rule)


def run(clouds_yaml: Path | None, keep: bool, echo: Callable[[str], None] = print) -> int:
    demo = Demo(Client(clouds_yaml, echo), echo)
    try:
        results = demo.run()
    except DemoFailed as exc:
        echo(f"\ndemo FAILED: {exc}")
        if not keep:
            demo.clean()
        return 1
    if not keep:
        demo.clean()
    echo("\n==> ping results")
    for what, sent, got in results:
        echo(f"    {what:<40} {got}/{sent} replies")
    return 0 if all(sent and got == sent for _, sent, got in results) else 1
