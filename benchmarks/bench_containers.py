"""Containers on Stratus networks through the container API (Zun v1) on a real all-in-one
cloud, against Docker with the same wiring done by hand, in the same run (needs root,
Docker, libvirt; builds the default images as ``make run`` does).

1. One at a time: the clock runs from ``POST /v1/containers?run=true`` (busybox, ``nets``
   a network of its own, a security group that lets ICMP in) until the container is
   Running (polled every 10 ms) and then answers a ping from the network's DHCP namespace.
   The baseline: ``docker run -d --network none`` of the same image (docker SDK, the
   client the agent uses), then a veth from a bridge of our own into the container's
   network namespace with an address, then the same ping from a namespace on that bridge
   (no security group there: one rule, set up before, lets the bridge's frames through).
   The two alternate; the steps between come from Docker's event times (created, joined
   its network, started). The first API container (which loads the image into Docker and
   makes the Docker network) is timed apart. For reference, not in the ratio: ``docker
   run -d`` on a network of Docker's own bridge driver, until started (what Docker's own
   network setup costs a container, before any plugin's work).
2. ``CONCURRENT`` at once: through the API, the creates issued from ``CONCURRENT`` client
   threads and again from fewer (a new network each), until every container is Running
   and answers a ping; by hand, ``docker run`` plus the same wiring in each of
   ``CONCURRENT`` threads. Every run starts with no container of the run before; a create
   the API refuses is counted and the run goes on with the others.
3. ``stratus demo`` on the same cloud: its wall time and its ping results.

usage: python benchmarks/bench_containers.py [--parts one many demo] [--runs N]
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import secrets
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import docker
import httpx
from common import admin_token, default_images, exit_on_sigterm, print_table, running_cloud
from pyroute2 import netns

from stratus.container.agent.docker import container_name
from stratus.host import firewall, namespaces
from stratus.host.names import bridge_name, dhcp_namespace
from stratus.host.netlink import Netlink
from stratus.network.agent import devices
from stratus.testing.cloud import Cloud

RUNS = 10
CONCURRENT = 50
IMAGE = "stratus/busybox:latest"  # tools/build-container-image.sh; the cloud's "busybox"
COMMAND = ["sleep", "3600"]
API_THREADS = (CONCURRENT, 20)  # client threads for the API's creates: as many, and fewer
ONE_CIDR = "10.71.0.0/24"
MANY_CIDRS = ("10.72.0.0/24", "10.74.0.0/24")  # one network per entry of API_THREADS
HAND_CIDR = "10.73.0.0/23"  # RUNS + CONCURRENT containers, from .10 on
POLL = 0.05  # seconds between two looks at the API
ONE_POLL = 0.01  # the same, timing one container (the baseline is timed without a poll)
PING_DEADLINE = 10  # seconds a ping retries (every 20 ms) before the address counts as dead
WAIT = 180.0  # seconds the containers of a run may take to be Running
LABEL = "org.stratus.bench"  # on the baseline's containers: the run's token
Marks = dict[str, float]  # what happened when (time.time(), or Docker's clock: the same)


class ContainerApi:
    """The container and network APIs of the cloud, as its admin."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        headers = {"X-Auth-Token": admin_token(cloud), "OpenStack-API-Version": "container 1.40"}
        limits = httpx.Limits(max_connections=CONCURRENT + 5)
        self.http = httpx.Client(headers=headers, timeout=120, limits=limits)
        self.group_id = ""

    def _call(self, method: str, service: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, self.cloud.url(service) + path, **kwargs)
        if response.is_error:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def prepare(self) -> None:
        """Room for every container of the run, and a security group that lets ICMP in."""
        group = {"security_group": {"name": "bench-icmp"}}
        made = self._call("POST", "network", "/v2.0/security-groups", json=group)
        self.group_id = made["security_group"]["id"]
        rule = {"security_group_id": self.group_id, "direction": "ingress", "protocol": "icmp"}
        self._call(
            "POST", "network", "/v2.0/security-group-rules", json={"security_group_rule": rule}
        )
        project = made["security_group"]["project_id"]
        quota = {"containers": -1}
        self._call("PUT", "container", f"/v1/quotas/{project}", json=quota)

    def network(self, name: str, cidr: str) -> str:
        """A network with an IPv4 subnet; its id."""
        network = self._call("POST", "network", "/v2.0/networks", json={"network": {"name": name}})
        network_id = network["network"]["id"]
        subnet = {"network_id": network_id, "cidr": cidr, "ip_version": 4}
        self._call("POST", "network", "/v2.0/subnets", json={"subnet": subnet})
        return network_id

    def run(self, network_id: str, name: str) -> tuple[str, str]:
        """Run a container on the network; its uuid and IPv4 address."""
        body = {
            "name": name,
            "image": "busybox",
            "command": COMMAND,
            "cpu": 0.1,
            "memory": 64,
            "nets": [{"network": network_id}],
            "security_groups": [self.group_id],
        }
        made = self._call("POST", "container", "/v1/containers?run=true", json=body)
        address = next(a["addr"] for a in made["addresses"][network_id] if a["version"] == 4)
        return made["uuid"], address

    def statuses(self) -> dict[str, tuple[str, str | None, str | None]]:
        """Every container's (status, task state, reason), by uuid."""
        found = self._call("GET", "container", "/v1/containers")["containers"]
        return {c["uuid"]: (c["status"], c["task_state"], c["status_reason"]) for c in found}

    def wait_running(self, uuids: list[str], poll: float = POLL) -> None:
        def done() -> bool:
            seen = self.statuses()
            failed = {u: seen[u][2] for u in uuids if seen.get(u, ("",))[0] == "Error"}
            if failed:
                raise RuntimeError(f"containers failed: {failed}")
            return all(seen.get(u, ("", "x"))[:2] == ("Running", None) for u in uuids)

        wait_for(done, "the containers to be Running", poll)

    def delete(self, uuids: list[str]) -> None:
        for ident in uuids:
            self._call("DELETE", "container", f"/v1/containers/{ident}?force=True")
        wait_for(lambda: not set(uuids) & self.statuses().keys(), "the containers to go")

    def settle(self) -> None:
        """Wait until no create is in flight (a failed run's too), so that the cloud's own
        clean-up finds every container its agent makes."""
        with suppress(httpx.HTTPError, RuntimeError):
            wait_for(
                lambda: all(s != "Creating" for s, _, _ in self.statuses().values()),
                "the creates in flight",
            )


class EngineEvents:
    """When Docker created each container, joined it to its network and started it (from
    its event stream: the daemon's clock, which is this host's)."""

    ACTIONS = ("create", "connect", "start")

    def __init__(self) -> None:
        self.client = docker.from_env()
        self.ids: dict[str, str] = {}  # container name -> id
        self.times: dict[str, dict[str, float]] = {}  # container id -> action -> first time
        filters = {"type": ["container", "network"], "event": list(self.ACTIONS)}
        self.stream = self.client.events(decode=True, since=int(time.time()), filters=filters)
        threading.Thread(target=self._read, name="docker-events", daemon=True).start()

    def _read(self) -> None:
        with suppress(Exception):  # the stream is closed
            for event in self.stream:
                actor = event["Actor"]
                if event["Type"] == "network":
                    container = actor["Attributes"].get("container", "")
                else:
                    container = actor["ID"]
                    self.ids[actor["Attributes"]["name"]] = container
                at = event["timeNano"] / 1e9
                self.times.setdefault(container, {}).setdefault(event["Action"], at)

    def of(self, name: str) -> Marks:
        """The times of container ``name`` (waiting a little for events still on their way)."""
        deadline = time.monotonic() + 5
        while True:
            found = self.times.get(self.ids.get(name, ""), {})
            if all(a in found for a in self.ACTIONS):
                return dict(found)
            if time.monotonic() > deadline:
                raise RuntimeError(f"Docker never told when {name} did {self.ACTIONS}: {found}")
            time.sleep(0.01)

    def close(self) -> None:
        self.stream.close()
        self.client.close()


class HandWired:
    """The baseline: Docker runs the image with no network, and a veth wired by hand gives
    the container an address on a bridge of our own, which a namespace of our own pings
    from. Everything carries ``token``; :meth:`close` removes it all."""

    def __init__(self, token: str, cidr: str) -> None:
        self.token = token
        self.network_id = str(uuid.uuid4())  # names the bridge, for the firewall to know it
        self.bridge = bridge_name(self.network_id)
        self.subnet = ipaddress.ip_network(cidr)
        self.namespace = f"{token}-ping"
        self.docker = docker.from_env(max_pool_size=CONCURRENT)

    def start(self) -> None:
        namespaces.create(self.namespace)
        pinger = f"{self.token}p"
        with Netlink() as host:
            host.ensure_bridge(self.bridge)
            self._wire(host, pinger, self.namespace, mac(0), self.subnet[2])
        # Docker's FORWARD policy drops bridged frames: accept this bridge's (no security
        # group: a port with port security disabled gets no chains of its own).
        port = firewall.Port(pinger, self.network_id, mac(0), port_security_enabled=False)
        firewall.apply(firewall.Ruleset((port,)), prefix=self.token)

    def _wire(
        self, host: Netlink, device: str, namespace: str, mac_address: str, address: Any
    ) -> None:
        cidr = f"{address}/{self.subnet.prefixlen}"
        devices.wire_veth(
            host, self.bridge, device, "eth0", namespace=namespace, mac=mac_address, mtu=None,
            addresses=[cidr],
        )  # fmt: skip

    def run_on_docker_bridge(self, index: int) -> None:
        """Run container ``index`` on a network of Docker's own bridge driver (Docker
        wires it: the reference for what a Docker network costs a container)."""
        if not self.docker.networks.list(names=[self.token]):
            self.docker.networks.create(self.token, driver="bridge", labels={LABEL: self.token})
        self.docker.containers.run(
            IMAGE,
            COMMAND,
            detach=True,
            network=self.token,
            name=self.bridged_name(index),
            labels={LABEL: self.token},
        )

    def bridged_name(self, index: int) -> str:
        return f"{self.token}-d{index}"

    def run(self, index: int) -> tuple[float, str]:
        """Run container ``index`` and wire it; when ``docker run`` returned, and its address."""
        container = self.docker.containers.run(
            IMAGE,
            COMMAND,
            detach=True,
            network_mode="none",
            name=self.name(index),
            labels={LABEL: self.token},
        )
        started = time.perf_counter()
        container.reload()
        namespace = f"{self.token}-c{index}"
        netns.attach(namespace, container.attrs["State"]["Pid"])
        address = self.subnet[10 + index]
        with Netlink() as host:
            self._wire(host, f"{self.token}r{index}", namespace, mac(index + 1), address)
        return started, str(address)

    def name(self, index: int) -> str:
        return f"{self.token}-{index}"

    def remove_containers(self) -> None:
        """Remove the containers, their namespaces' names and their veths."""
        found = self.docker.containers.list(all=True, filters={"label": f"{LABEL}={self.token}"})
        for container in found:
            container.remove(force=True)
        for name in namespaces.names(f"{self.token}-c"):
            namespaces.delete(name)
        with Netlink() as host:
            for link in host.link_names(f"{self.token}r"):
                host.delete_link(link)

    def close(self) -> None:
        """Remove everything, each step even if an earlier one failed."""
        try:
            self.remove_containers()
            for network in self.docker.networks.list(filters={"label": f"{LABEL}={self.token}"}):
                network.remove()
        finally:
            try:
                firewall.remove_all(prefix=self.token)
            finally:
                with Netlink() as host:
                    host.delete_link(self.bridge)
                    host.delete_link(f"{self.token}p")
                namespaces.delete(self.namespace)
                self.docker.close()


def mac(index: int) -> str:
    return f"02:5b:00:00:{index >> 8:02x}:{index & 0xFF:02x}"


def wait_for(check: Callable[[], bool], what: str, poll: float = POLL) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(poll)


def unanswered(namespace: str, addresses: list[str]) -> list[str]:
    """Ping every address from ``namespace`` at once until each answers once (retrying every
    20 ms for up to ``PING_DEADLINE`` s); the addresses that never answered."""

    def ping_all() -> list[str]:
        argv = ["ping", "-n", "-q", "-c", "1", "-i", "0.02", "-w", str(PING_DEADLINE)]
        pings = {
            a: subprocess.Popen([*argv, a], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for a in addresses
        }
        return [a for a, ping in pings.items() if ping.wait() != 0]

    return namespaces.run_in(namespace, ping_all)


def reach(namespace: str, addresses: list[str]) -> None:
    dead = unanswered(namespace, addresses)
    if dead:
        raise RuntimeError(f"no ping answer from {', '.join(dead)} in {PING_DEADLINE} s")


# --- 1. one at a time ---------------------------------------------------------------


def one_by_api(api: ContainerApi, events: EngineEvents, network_id: str, index: int) -> Marks:
    marks = {"begin": time.time()}
    ident, address = api.run(network_id, f"one-{index}")
    marks["answered"] = time.time()
    api.wait_running([ident], ONE_POLL)
    marks["running"] = time.time()
    reach(dhcp_namespace(network_id), [address])
    marks["reachable"] = time.time()
    return marks | events.of(container_name(ident))


def one_by_hand(hand: HandWired, events: EngineEvents, index: int) -> Marks:
    marks = {"begin": time.time()}
    _, address = hand.run(index)
    marks["wired"] = time.time()
    reach(hand.namespace, [address])
    marks["reachable"] = time.time()
    return marks | events.of(hand.name(index))


def one_on_docker_bridge(hand: HandWired, events: EngineEvents, index: int) -> Marks:
    marks = {"begin": time.time()}
    hand.run_on_docker_bridge(index)
    return marks | events.of(hand.bridged_name(index))


# Each step of a path: (label, from mark, to mark).
API_STEPS = [
    ("api: POST /v1/containers?run=true answered", "begin", "answered"),
    ("api:   agent: docker create done", "answered", "create"),
    ("api:   docker start: network joined (plugin)", "create", "connect"),
    ("api:   docker start: container started", "connect", "start"),
    ("api:   Running in the API (polled every 10 ms)", "start", "running"),
    ("api:   answers ping from qdhcp-<net>", "running", "reachable"),
    ("api: total", "begin", "reachable"),
]
HAND_STEPS = [
    ("raw: docker run -d --network none: created", "begin", "create"),
    ("raw:   docker start: container started", "create", "start"),
    ("raw:   veth wired into bridge and netns", "start", "wired"),
    ("raw:   answers ping from a namespace", "wired", "reachable"),
    ("raw: total", "begin", "reachable"),
]
BRIDGE_STEPS = [
    ("ref: docker run -d on a Docker bridge network: created", "begin", "create"),
    ("ref:   docker start: network joined", "create", "connect"),
    ("ref:   docker start: container started", "connect", "start"),
    ("ref: total to started (raw's: created + started)", "begin", "start"),
]


def one_at_a_time(api: ContainerApi, hand: HandWired, events: EngineEvents, count: int) -> None:
    network_id = api.network("bench-one", ONE_CIDR)
    first = one_by_api(api, events, network_id, 0)
    runs: dict[str, list[Marks]] = {"api": [], "hand": [], "bridge": []}
    for index in range(count):
        runs["api"].append(one_by_api(api, events, network_id, index + 1))
        runs["hand"].append(one_by_hand(hand, events, index))
        runs["bridge"].append(one_on_docker_bridge(hand, events, index))
    rows: list[list[object]] = []
    for path, steps in (("api", API_STEPS), ("hand", HAND_STEPS), ("bridge", BRIDGE_STEPS)):
        for label, begin, end in steps:
            rows.append([label, *stats([m[end] - m[begin] for m in runs[path]])])
    totals = [stats([m["reachable"] - m["begin"] for m in runs[p]]) for p in ("api", "hand")]
    rows.append(["ratio api / raw (total)", *(a / h for a, h in zip(*totals, strict=True))])
    print_table(
        f"Container to Running and reachable, one at a time ({count} runs each, alternating; ms; "
        "steps from Docker's events)",
        ["step", "median", "min", "max"],
        rows,
    )
    first_ms = (first["reachable"] - first["begin"]) * 1000
    print(f"(not counted: the first API container, which loads the image into Docker and makes "
          f"the Docker network: {first_ms:.0f} ms)")  # fmt: skip
    api.delete(list(api.statuses()))
    hand.remove_containers()


def stats(seconds: list[float]) -> list[float]:
    ms = [s * 1000 for s in seconds]
    return [statistics.median(ms), min(ms), max(ms)]


# --- 2. many at once ----------------------------------------------------------------


@dataclass
class Burst:
    """``CONCURRENT`` containers started at once: seconds until all were asked for (or
    started), Running (or wired), answering; how many were made, and the first refusal."""

    seconds: list[float]
    made: int
    refused: str = ""


def many_by_api(api: ContainerApi, network_id: str, threads: int) -> Burst:
    def attempt(index: int) -> tuple[str, str] | str:
        try:
            return api.run(network_id, f"many-{index}")
        except RuntimeError as exc:  # the run goes on with the containers that were made
            return str(exc)

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(attempt, range(CONCURRENT)))
    posted = time.perf_counter()
    made = [r for r in results if isinstance(r, tuple)]
    api.wait_running([ident for ident, _ in made])
    running = time.perf_counter()
    reach(dhcp_namespace(network_id), [address for _, address in made])
    seconds = [posted - start, running - start, time.perf_counter() - start]
    refused = [r for r in results if isinstance(r, str)]
    said = f"{len(refused)} refused, e.g. {refused[0]}" if refused else ""
    return Burst(seconds, len(made), said)


def many_by_hand(hand: HandWired) -> Burst:
    start = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENT) as pool:
        done = list(pool.map(hand.run, range(RUNS, RUNS + CONCURRENT)))
    wired = time.perf_counter()
    reach(hand.namespace, [address for _, address in done])
    seconds = [max(s for s, _ in done) - start, wired - start, time.perf_counter() - start]
    return Burst(seconds, len(done))


def many_at_once(api: ContainerApi, hand: HandWired) -> None:
    by_hand = many_by_hand(hand)
    hand.remove_containers()
    by_api = {}
    for threads, cidr in zip(API_THREADS, MANY_CIDRS, strict=True):
        network_id = api.network(f"bench-many-{threads}", cidr)
        by_api[threads] = many_by_api(api, network_id, threads)
        api.delete(list(api.statuses()))
    rows: list[list[object]] = []
    for threads, burst in by_api.items():
        label = f"api: POST / Running / ping, {threads} client threads"
        rows.append([label, f"{burst.made}/{CONCURRENT}", *burst.seconds])
    rows.append(
        [f"raw: docker run / + veth / ping, {CONCURRENT} threads", CONCURRENT, *by_hand.seconds]
    )
    for threads, burst in by_api.items():
        if burst.made == CONCURRENT:
            ratios = [a / h for a, h in zip(burst.seconds, by_hand.seconds, strict=True)]
            rows.append([f"ratio api ({threads} threads) / raw", "", *ratios])
    print_table(
        f"{CONCURRENT} containers started at once on one host (s)",
        ["path", "made", "all asked / started", "all Running / wired", "all answer ping"],
        rows,
    )
    for threads, burst in by_api.items():
        if burst.refused:
            print(f"({threads} client threads: {burst.refused[:400]})")


# --- 3. the scenario ----------------------------------------------------------------


def demo(cloud: Cloud) -> None:
    start = time.perf_counter()
    result = cloud.stratus("demo", "--clouds-yaml", str(cloud.clouds_yaml), check=False)
    elapsed = time.perf_counter() - start
    pings = re.findall(r"^\s+(\S+ -> \S+)\s+(\d+)/(\d+) replies$", result.stdout, re.M)
    if result.returncode != 0 and not pings:
        print(result.stdout[-3000:], result.stderr[-3000:])
    answered = bool(pings) and all(got == sent != "0" for _, got, sent in pings)
    rows: list[list[object]] = [
        ["wall time (s)", elapsed],
        ["exit code", result.returncode],
        ["every ping answered", "yes" if answered else "NO"],
    ]
    rows += [[f"  {what}", f"{got}/{sent} replies"] for what, got, sent in pings]
    print_table("stratus demo (VM + containers on one network, openstack CLI)", ["", ""], rows)


PARTS = ("one", "many", "demo")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--runs", type=int, default=RUNS, help=f"one at a time (1-{RUNS})")
    args = parser.parse_args()
    if not 1 <= args.runs <= RUNS:  # the baseline's addresses after RUNS are the burst's
        parser.error(f"--runs must be from 1 to {RUNS}")
    exit_on_sigterm()
    manifests = default_images()
    token = "bc" + secrets.token_hex(2)
    hand = HandWired(token, HAND_CIDR)
    started = time.perf_counter()
    with running_cloud(image_manifests=manifests) as cloud:
        api = ContainerApi(cloud)
        events = EngineEvents()
        try:
            hand.start()
            api.prepare()
            if "one" in args.parts:
                one_at_a_time(api, hand, events, args.runs)
            if "many" in args.parts:
                many_at_once(api, hand)
            if "demo" in args.parts:
                demo(cloud)
        finally:
            try:
                api.settle()
            finally:
                events.close()
                hand.close()
    elapsed = time.perf_counter() - started
    print(f"\n(whole benchmark, cloud start and stop included: {elapsed:.0f} s)")


if __name__ == "__main__":
    main()
