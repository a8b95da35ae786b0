"""The container issue's "must work" list with the real openstack client, in every
deployment mode: containers are equals of VMs on a tenant network (one subnet, one bridge,
the same security groups both ways, a floating IP through a router), another project's
container on the same addresses cannot reach them, a container's whole life (logs, exec,
top, stats, stop/start, pause/unpause, commit and a run of the committed image), a capsule
whose two containers share one address, and bad requests that hold nothing. Everything
made is deleted again and leaves no Docker container, veth or port behind.

Every action is the real client's; waiting for its outcome reads the APIs directly (the
client takes a second or two to start, which polling would pay over and over)."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import httpx
import pytest
import yaml

from stratus.cli.demo import guest_command, received
from stratus.container.agent.docker import HOST_LABEL, LABEL, container_name
from stratus.network.plugging import device_name
from stratus.testing.cloud import Cloud, password_token
from tests.e2e.test_compute import link_exists, pings, unique

pytestmark = pytest.mark.e2e

GUEST, BUSYBOX = "stratus-guest", "busybox"
CIDR = "10.61.0.0/24"  # the demo network's, and the other project's network's too
OTHER_IP = "10.61.0.200"  # the other project's container: not an address of the demo's


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)
    return result


class Project:
    """One clouds.yaml entry: the real client, and its token for reading the APIs."""

    def __init__(self, cloud: Cloud, entry: str) -> None:
        self.cloud, self.entry = cloud, entry
        self._token: str | None = None

    def __call__(self, *args: str, check: bool = True) -> Any:
        """The command's result (with ``-f json``, its decoded output)."""
        return self.cloud.openstack(*args, cloud=self.entry, check=check)

    def json(self, *args: str) -> Any:
        return self(*args, "-f", "json")

    def value(self, *args: str, column: str) -> str:
        return self(*args, "-f", "value", "-c", column).stdout.strip()

    def api(self, service: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self._token is None:
            self._token = self._issue_token()
        headers = {
            "X-Auth-Token": self._token,
            "OpenStack-API-Version": "container 1.40",
            "X-OpenStack-Nova-API-Version": "2.6",
        }
        url = f"{self.cloud.url(service)}{path}"
        return httpx.request(method, url, headers=headers, timeout=30, **kwargs)

    def _issue_token(self) -> str:
        """A token for the clouds.yaml entry's user and project (as the client gets one)."""
        auth = yaml.safe_load(self.cloud.clouds_yaml.read_text())["clouds"][self.entry]["auth"]
        domain = {"name": auth["user_domain_name"]}
        user, password, project = auth["username"], auth["password"], auth["project_name"]
        return password_token(auth["auth_url"], user, password, project, domain)

    # -- containers ------------------------------------------------------------------

    def run(
        self,
        name: str,
        *options: str,
        image: str = BUSYBOX,
        command: tuple[str, ...] = ("sleep", "3600"),
        driver: str = "glance",
        until: str | None = "Running",
    ) -> Any:
        """``appcontainer run`` (and wait ``until``): the run's answer, which has the
        addresses by network, with their ports. The output options go before the image:
        what follows it is the command."""
        made = self(
            "appcontainer", "run", "-f", "json", "--name", name, "--image-driver", driver,
            *options, image, *command,
        )  # fmt: skip
        if until:
            self.wait_container(name, until)
        return made

    def container(self, name: str) -> dict[str, Any] | None:
        response = self.api("container", "GET", f"/v1/containers/{name}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def wait_container(self, name: str, status: str) -> dict[str, Any]:
        def reached() -> Any:
            shown = self.container(name)
            assert shown is not None and (status == "Error" or shown["status"] != "Error"), shown
            return shown["status"] == status and shown["task_state"] is None and shown

        return wait_for(f"{name} to be {status}", reached)

    def delete_containers(self, *names: str) -> None:
        """Delete (stopping them first) and wait until the API has none of them."""
        self("appcontainer", "delete", "--stop", *names, check=False)
        wait_for(f"{names} to go", lambda: all(self.container(n) is None for n in names))

    def reachable(self, container: str, *addresses: str, count: int = 1) -> list[bool]:
        """Whether ping from the container (``appcontainer exec``) has replies from each."""
        ping = f"ping -c {count} -W 1"
        loop = f"for a in {' '.join(addresses)}; do {ping} $a >/dev/null; echo $?; done"
        said = self("appcontainer", "exec", container, "sh", "-c", loop).stdout.split()
        assert len(said) == len(addresses), said
        return [code == "0" for code in said]

    # -- the VM ----------------------------------------------------------------------

    def console_output(self, server_id: str) -> str:
        body = {"os-getConsoleOutput": {}}
        response = self.api("compute", "POST", f"/v2.1/servers/{server_id}/action", json=body)
        return response.json().get("output", "") if response.is_success else ""

    def vm_pings(self, server_id: str, address: str, count: int = 1) -> tuple[int, int]:
        """(sent, received) of a ping typed on the VM's serial console (the URL the client's
        ``console url show --serial`` asks for)."""
        body = {"remote_console": {"protocol": "serial", "type": "serial"}}
        path = f"/v2.1/servers/{server_id}/remote-consoles"
        url = self.api("compute", "POST", path, json=body).json()["remote_console"]["url"]
        return received(guest_command(url, f"ping -c {count} -W 1 {address}"))


def port_of(made: Any) -> tuple[str, dict[str, Any]]:
    """The port id and address entry of a container (or capsule) with one address."""
    (entries,) = made["addresses"].values()
    (entry,) = entries
    return entry["port"], entry


def bridge_of(device: str) -> str:
    (link,) = json.loads(subprocess.run(
        ["ip", "-j", "link", "show", "dev", device], capture_output=True, text=True, check=True
    ).stdout)  # fmt: skip
    return link["master"]


class Engine:
    """What the Docker Engine holds of the cloud's agent host."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def __enter__(self) -> docker.DockerClient:
        self.client = docker.from_env()
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def containers(self) -> list[str]:
        """The names of every container (any state) the agent host made."""
        with self as client:
            label = f"{HOST_LABEL}={self.cloud.host}"
            return [c.name for c in client.containers.list(all=True, filters={"label": label})]

    def networks(self) -> list[str]:
        """The Docker networks of the cloud's network plugin."""
        with self as client:
            found = client.networks.list(filters={"driver": self.cloud.network_plugin})
            return [n.name for n in found]

    def status(self, uuid: str) -> str:
        with self as client:
            return client.containers.get(container_name(uuid)).status

    def forget_image(self, image_id: str) -> None:
        """The engine's copy of an image the image service no longer has."""
        with self as client, suppress(docker.errors.ImageNotFound):
            client.images.remove(f"stratus-image/{image_id}:latest", force=True)


class Undo:
    """Clean-up steps, run last first whatever happened (a step may fail: it was done)."""

    def __init__(self) -> None:
        self.steps: list[Callable[[], Any]] = []

    def __call__(self, step: Callable[[], Any]) -> None:
        self.steps.append(step)

    def run(self) -> None:
        while self.steps:
            with suppress(Exception):
                self.steps.pop()()


@pytest.fixture
def undo() -> Iterator[Undo]:
    steps = Undo()
    try:
        yield steps
    finally:
        steps.run()


@dataclass
class Lan:
    """The demo project's tenant network with the one VM the tests share."""

    demo: Project
    admin: Project
    net: str
    subnet_id: str
    vm: str
    vm_ip: str
    vm_port: str

    def ports(self) -> set[str]:
        return {p["ID"] for p in self.demo.json("port", "list", "--network", self.net)}

    def ports_since(self, before: set[str]) -> list[tuple[str, ...]]:
        """The ports not among ``before``: id, owner, device, status, host (to say which
        one stayed when a check fails)."""
        fields = ("id", "device_owner", "device_id", "status", "binding_host_id")
        shown = [self.admin.json("port", "show", p) for p in self.ports() - before]
        return [tuple(str(port.get(f)) for f in fields) for port in shown]


@pytest.fixture(scope="module")
def lan(cloud: Cloud) -> Iterator[Lan]:
    demo, admin = Project(cloud, "stratus-demo"), Project(cloud, "stratus")
    net, sub, name = unique("cnet"), unique("csub"), unique("cvm")
    demo("network", "create", net)
    try:
        subnet_id = demo.value(
            "subnet", "create", "--network", net, "--subnet-range", CIDR, sub, column="id"
        )
        vm = demo.value("server", "create", "--image", GUEST, "--flavor", "m1.tiny",
                        "--network", net, name, column="id")  # fmt: skip
        try:
            seen: list[dict[str, Any]] = []

            def active() -> Any:
                seen[:] = [demo.api("compute", "GET", f"/v2.1/servers/{vm}").json()["server"]]
                assert seen[0]["status"] != "ERROR", seen[0]
                return seen[0]["status"] == "ACTIVE" and seen[0]["addresses"]

            try:
                addresses = wait_for(f"{name} to be ACTIVE", active, timeout=180)
            except AssertionError as exc:
                raise AssertionError(f"{exc}; last seen: {seen}") from None
            address = addresses[net][0]["addr"]
            query = {"device_id": vm}
            (port,) = demo.api("network", "GET", "/v2.0/ports", params=query).json()["ports"]
            wait_for(
                f"{name}'s DHCP lease on its console",
                lambda: f"lease {address}/" in demo.console_output(vm),
                timeout=180,
            )
            yield Lan(demo, admin, net, subnet_id, vm, address, port["id"])
        finally:
            demo("server", "delete", vm, check=False)
            wait_for(
                f"{name} to go",
                lambda: demo.api("compute", "GET", f"/v2.1/servers/{vm}").status_code == 404,
            )
    finally:
        demo("network", "delete", net, check=False)


def test_a_container_is_a_vms_equal_on_its_network_and_apart_from_another_project(
    cloud: Cloud, lan: Lan, undo: Undo
) -> None:
    """The same subnet and bridge, pings both ways, a floating IP through a router; another
    project's container on the same addresses reaches neither."""
    demo, admin = lan.demo, lan.admin
    con, other, router = unique("con"), unique("other"), unique("crouter")
    allowed = demo("security", "group", "rule", "create", "--protocol", "icmp", "default",
                   "-f", "value", "-c", "id", check=False)  # fmt: skip
    if allowed.returncode == 0:  # (else another test allowed it already)
        rule = allowed.stdout.strip()
        undo(lambda: demo("security", "group", "rule", "delete", rule))
    else:
        assert "already exists" in allowed.stderr, allowed.stderr

    undo(lambda: demo.delete_containers(con))
    made = demo.run(con, "--net", f"network={lan.net}")
    port_id, entry = port_of(made)
    con_ip = entry["addr"]
    assert entry["subnet_id"] == lan.subnet_id and con_ip != lan.vm_ip
    port = admin.json("port", "show", port_id)  # its binding: admin only
    assert (port["device_id"], port["device_owner"]) == (made["uuid"], "compute:kuryr")
    assert (port["status"], port["binding_host_id"]) == ("ACTIVE", cloud.host)
    # The container's veth is in the bridge the VM's tap is in.
    assert bridge_of(device_name(port_id)) == bridge_of(device_name(lan.vm_port))

    wait_for("the container to ping the VM", lambda: demo.reachable(con, lan.vm_ip, count=2)[0])
    wait_for("the VM to ping the container", lambda: demo.vm_pings(lan.vm, con_ip, 2) == (2, 2))

    # A router to the public network and a floating IP on the container's port: the host
    # reaches it (from outside the group: the ICMP rule lets it in).
    demo("router", "create", "--external-gateway", "public", router)
    undo(lambda: demo("router", "delete", router))
    demo("router", "add", "subnet", router, lan.subnet_id)
    undo(lambda: demo("router", "remove", "subnet", router, lan.subnet_id))
    floating = demo.value("floating", "ip", "create", "public", column="floating_ip_address")
    undo(lambda: demo("floating", "ip", "delete", floating))
    demo("appcontainer", "add", "floating", "ip", con, floating)
    shown = demo.json("floating", "ip", "show", floating)
    assert (shown["port_id"], shown["fixed_ip_address"]) == (port_id, con_ip)
    wait_for("the host to ping the container's floating IP", lambda: pings(floating, count=2))
    demo("appcontainer", "remove", "floating", "ip", floating)

    # The admin project: the same addresses on a network of its own, ICMP allowed in.
    other_net = admin.value("network", "create", unique("onet"), column="id")
    undo(lambda: admin("network", "delete", other_net))
    admin("subnet", "create", "--network", other_net, "--subnet-range", CIDR, unique("osub"))
    group = admin.value("security", "group", "create", unique("osg"), column="id")
    undo(lambda: admin("security", "group", "delete", group))
    admin("security", "group", "rule", "create", "--protocol", "icmp", group)
    undo(lambda: admin.delete_containers(other))
    admin.run(other, "--net", f"network={other_net},v4-fixed-ip={OTHER_IP}",
              "--security-group", group)  # fmt: skip
    wait_for(  # it is up on its own network
        "the other container to answer its network's DHCP namespace",
        lambda: pings(OTHER_IP, f"qdhcp-{other_net}", count=1),
        timeout=30,
    )
    assert admin.reachable(other, lan.vm_ip, con_ip) == [False, False]
    assert demo.reachable(con, OTHER_IP) == [False]
    assert demo.vm_pings(lan.vm, OTHER_IP) == (1, 0)

    undo.run()  # and nothing of either container is left
    assert Engine(cloud).containers() == []
    assert not link_exists(device_name(port_id))
    assert port_id not in lan.ports()


def test_a_group_without_icmp_blocks_vm_and_container_both_ways(
    cloud: Cloud, lan: Lan, undo: Undo
) -> None:
    demo = lan.demo
    con, name = unique("guarded"), unique("noicmp")
    group = demo.value("security", "group", "create", name, column="id")
    undo(lambda: demo("security", "group", "delete", group))
    demo("port", "set", "--no-security-group", "--security-group", group, lan.vm_port)
    undo(lambda: demo("port", "set", "--no-security-group", "--security-group", "default",
                      lan.vm_port))  # fmt: skip
    undo(lambda: demo.delete_containers(con))
    made = demo.run(con, "--net", f"network={lan.net}", "--security-group", name)
    assert made["security_groups"] == [group]
    con_ip = port_of(made)[1]["addr"]

    def blocked() -> bool:
        return demo.reachable(con, lan.vm_ip) == [False] and demo.vm_pings(lan.vm, con_ip) == (1, 0)

    def allowed() -> bool:
        return demo.reachable(con, lan.vm_ip) == [True] and demo.vm_pings(lan.vm, con_ip) == (1, 1)

    # (the VM's port may be in the default group for a moment yet)
    wait_for("the group to block ICMP both ways", blocked, timeout=30)
    rule = demo.value("security", "group", "rule", "create", "--protocol", "icmp", name,
                      column="id")  # fmt: skip
    wait_for("the ICMP rule to let pings through both ways", allowed, timeout=30)
    demo("security", "group", "rule", "delete", rule)
    wait_for("the rule's removal to block ICMP both ways again", blocked, timeout=30)


def top(demo: Project, container: str) -> dict[str, Any]:
    """What ``appcontainer top`` got from the API: python-zunclient 5.5 prints it with
    ``print("%-20s") % title``, a TypeError on Python 3, so the answer is read from the
    client's --debug log of the response."""
    result = demo("--debug", "appcontainer", "top", container, check=False)
    found = re.search(r'"GET /v1/containers/\S+/top\S* HTTP/1.1" 200 .*?\nRESP BODY: ([^\n]*)\n',
                      result.stderr, re.S)  # fmt: skip
    assert found, result.stderr[-2000:]
    return json.loads(found.group(1))


def test_a_containers_life_a_commit_and_a_capsule_leave_nothing_behind(
    cloud: Cloud, lan: Lan, undo: Undo
) -> None:
    demo, engine = lan.demo, Engine(cloud)
    con, again, repo, cap = unique("life"), unique("again"), unique("snap"), unique("cap")
    before = lan.ports()
    undo(lambda: demo.delete_containers(con))
    made = demo.run(con, "--net", f"network={lan.net}", "--memory", "64",
                    command=("sh", "-c", f"echo hello-{con}; exec sleep 3600"))  # fmt: skip
    veth = device_name(port_of(made)[0])

    assert f"hello-{con}" in demo("appcontainer", "logs", con).stdout
    said = demo("appcontainer", "exec", con, "sh", "-c", "echo out-$((6*7)); exit 3", check=False)
    assert (said.returncode, said.stdout.strip()) == (3, "out-42"), said
    processes = top(demo, con)
    assert "CMD" in processes["Titles"], processes
    assert [p[-1] for p in processes["Processes"]] == ["sleep 3600"], processes
    stats = demo.json("appcontainer", "stats", con)
    assert stats["MEM LIMIT(MiB)"] == 64.0 and stats["MEM USAGE(MiB)"] > 0, stats

    # PID 1 (sleep) ignores SIGTERM, so the stop takes its timeout, all the while busy
    # stopping. A stopped container's port is unbound and its veth gone.
    demo("appcontainer", "stop", "--timeout", "3", con)
    shown = demo.json("appcontainer", "show", con)
    assert (shown["status"], shown["task_state"]) in {("Running", "stopping"), ("Stopped", None)}
    demo.wait_container(con, "Stopped")
    assert engine.status(made["uuid"]) == "exited" and not link_exists(veth)
    demo("appcontainer", "start", con)
    demo.wait_container(con, "Running")
    assert link_exists(veth)
    demo("appcontainer", "pause", con)
    demo.wait_container(con, "Paused")
    assert engine.status(made["uuid"]) == "paused"
    demo("appcontainer", "unpause", con)
    demo.wait_container(con, "Running")

    demo("appcontainer", "exec", con, "sh", "-c", f"echo {repo} > /marker")
    said = demo("appcontainer", "commit", con, f"{repo}:v1").stdout
    image = re.search(r"The image is ([0-9a-f-]{36})", said)
    assert image, said
    image_id = image.group(1)
    undo(lambda: engine.forget_image(image_id))
    undo(lambda: demo("image", "delete", image_id))
    wait_for(
        "the committed image to be active",
        lambda: demo.api("image", "GET", f"/v2/images/{image_id}").json()["status"] == "active",
    )
    undo(lambda: demo.delete_containers(again))  # (before its image goes)
    demo.run(again, "--net", f"network={lan.net}", image=repo)
    assert demo("appcontainer", "exec", again, "cat", "/marker").stdout.strip() == repo

    # A capsule: two containers in one network namespace, on the capsule's one port.
    members = [f"{cap}-a", f"{cap}-b"]
    template = {
        "kind": "capsule",
        "capsuleVersion": "beta",
        "metadata": {"name": cap},
        "nets": [{"network": lan.net}],
        "spec": {
            "containers": [
                {"name": m, "image": BUSYBOX, "imageDriver": "glance", "command": ["sleep", "3600"]}
                for m in members
            ]
        },
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        file.write(json.dumps(template))
        file.flush()
        capsule = demo.json("capsule", "create", "--file", file.name)
    undo(lambda: wait_for(f"{cap} to go", lambda: not capsule_exists(demo, cap)))
    undo(lambda: demo("capsule", "delete", cap))
    capsule_port, capsule_entry = port_of(capsule)
    for member in members:
        demo.wait_container(member, "Running")
    seen = [
        demo("appcontainer", "exec", member, "ip", "-4", "-o", "addr", "show", "eth0").stdout
        for member in members
    ]
    addresses = [re.findall(r"inet ([\d.]+)/", said) for said in seen]
    assert addresses == [[capsule_entry["addr"]]] * 2, seen
    assert link_exists(device_name(capsule_port))

    undo.run()  # the capsule, the container of the image, the image, the first container
    assert engine.containers() == []
    with engine as client:  # the committed image, loaded to run, is gone from the engine too
        assert not client.images.list(filters={"label": f"{LABEL}={made['uuid']}"})
    assert engine.networks() == []  # each Docker network went with its last container
    assert not any(link_exists(device_name(p)) for p in (port_of(made)[0], capsule_port))
    # The ports go with the records, as the agents report the containers gone: soon after.
    # (Compared as subsets: a port of the test before may still have been going at the
    # start, freed as asynchronously.)
    try:
        wait_for("the containers' ports to go", lambda: lan.ports() <= before, timeout=60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; left: {lan.ports_since(before)}") from None


def capsule_exists(demo: Project, name: str) -> bool:
    return demo.api("container", "GET", f"/v1/capsules/{name}").status_code != 404


def test_bad_requests_are_refused_and_hold_no_port(cloud: Cloud, lan: Lan, undo: Undo) -> None:
    demo, admin = lan.demo, lan.admin
    private = admin.value("network", "create", unique("private"), column="id")
    undo(lambda: admin("network", "delete", private))
    before = lan.ports()
    name = unique("bad")
    net = f"network={lan.net}"
    cases = [
        ([net], "no-such-image", "Image no-such-image could not be found"),
        (["network=no-such-net"], BUSYBOX, "Network no-such-net could not be found"),
        ([f"network={private}"], BUSYBOX, f"Network {private} could not be found"),
        ([net, "--memory", "4"], BUSYBOX, "memory must be at least 6 MB"),
    ]

    def refused(case: tuple[list[str], str, str]) -> None:
        options, image, words = case
        result = demo("appcontainer", "run", "--name", name, "--image-driver", "glance",
                      "--net", *options, image, "sleep", "60", check=False)  # fmt: skip
        assert result.returncode != 0, case
        assert words in result.stderr and "(HTTP 4" in result.stderr, result.stderr

    with ThreadPoolExecutor(2) as pool:  # independent cases: two at a time
        list(pool.map(refused, cases))
    assert demo.container(name) is None

    # An image the engine does not have: accepted, then Error with the reason, its port freed.
    undo(lambda: demo.delete_containers(name))
    demo.run(name, "--net", net, image="no-such-local-image", driver="docker", until="Error")
    failed = demo.json("appcontainer", "show", name)
    assert "no-such-local-image" in failed["status_reason"], failed
    assert lan.ports() <= before  # (a port of the test before may have gone meanwhile)
    undo.run()
    assert demo.json("appcontainer", "list") == []
    assert Engine(cloud).containers() == []
