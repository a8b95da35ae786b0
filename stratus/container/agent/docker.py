"""The Docker Engine driver (docker SDK): the one place the agent touches Docker.

Containers are named ``stratus-<uuid>`` and labelled with their uuid and the agent's host
name, so the driver finds every container it made (and only those: another cloud's agent
on the same engine is left alone) after a restart. An image from the
image service is a ``docker save`` tarball: it is loaded once per host and tagged
``stratus-image/<image id>``, which is how the driver knows it is already there. Such a tag
goes again (``forget_unused_images``) once no container of the engine uses the image and
neither a tag nor a create of this driver touched it for long enough; Docker then removes
an image left with no tag.

A container with ports (the spec's ``ports``) is made on their networks' Docker networks
(see :mod:`.docker_networks`): the first at create, the others connected before it
starts; a capsule's ports go to its sandbox, whose network namespace its containers share.
Its mounts (the spec's ``mounts``) are local volumes and files (see :mod:`.docker_mounts`,
which says what is enforced of a volume's size), removed with the container.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any, TypeVar

import docker
import docker.errors
import requests

from stratus.container import states
from stratus.container.agent.docker_mounts import DockerMounts
from stratus.container.agent.docker_networks import Binder, DockerNetworks, Subnets
from stratus.container.agent.driver import (
    ContainerMissing,
    DriverUnavailable,
    HostInfo,
    ImageData,
    State,
)
from stratus.runtime.keyed_locks import KeyedLocks

LABEL = "org.openstack.stratus.container"
HOST_LABEL = "org.openstack.stratus.host"  # the agent host whose container it is
CAPSULE_LABEL = "org.openstack.stratus.capsule"  # on a capsule's containers
SANDBOX_LABEL = "org.openstack.stratus.sandbox"  # on the container holding its netns
IMAGE_REPO = "stratus-image"
CPU_PERIOD = 100_000  # microseconds; a container's CPUs are its quota of this period
MIB = 1024 * 1024
T = TypeVar("T")
LOG = logging.getLogger(__name__)

_STATUSES = {
    "created": states.CREATED,
    "running": states.RUNNING,
    "paused": states.PAUSED,
    "restarting": states.RESTARTING,
    "exited": states.STOPPED,
    "removing": states.DELETING,
    "dead": states.ERROR,
}


class ImageError(Exception):
    """The container's image cannot be had (not in the engine, or its tarball is bad)."""


# Engine events after which a container's state may differ from what was reported.
_STATE_EVENTS = frozenset({"start", "die", "pause", "unpause", "restart", "oom", "kill"})


def container_name(uuid: str) -> str:
    return f"stratus-{uuid}"


def sandbox_name(capsule_id: str) -> str:
    return f"stratus-sandbox-{capsule_id}"


class DockerDriver:
    def __init__(
        self,
        url: str,
        host: str,
        timeout: int = 120,
        *,
        network_plugin: str | None = None,
        subnets: Subnets | None = None,
        bind: Binder | None = None,
    ) -> None:
        """``network_plugin`` is this host's Docker network plugin, ``subnets`` what it
        looks a network's IPv4 subnets up with: both are needed for containers with
        ports; ``bind`` binds a port to this host (ahead of its plugging)."""
        self.url = url
        self.host = host
        self.timeout = timeout
        self.networks = DockerNetworks(network_plugin, subnets, {HOST_LABEL: host}, bind)
        self.mounts = DockerMounts(LABEL, {HOST_LABEL: host})
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()
        self._image_locks = KeyedLocks()
        self._image_users: Counter[str] = Counter()  # image id -> creates using it now
        self._image_used: dict[str, float] = {}  # image id -> when a create last used it
        self._started = time.time()  # images count as used when the driver started
        self._capsule_locks = KeyedLocks()
        self._events: Any = None  # the open event stream, which close_changes ends

    # --- host -----------------------------------------------------------------------

    def host_info(self) -> HostInfo:
        info = self._call(lambda c: c.info())
        return HostInfo(cpus=int(info["NCPU"]), memory_mb=int(info["MemTotal"]) // MIB)

    # --- lifecycle ------------------------------------------------------------------

    def create(self, spec: dict[str, Any], image_data: ImageData) -> None:
        with self._image_in_use(spec, image_data) as image:
            self._create(spec, image)

    def _create(self, spec: dict[str, Any], image: str) -> None:
        memory = f"{spec['memory']}m"
        kwargs: dict[str, Any] = {
            "name": container_name(spec["uuid"]),
            "command": spec["command"],
            "entrypoint": spec["entrypoint"],
            "environment": spec["environment"],
            "labels": {**spec["labels"], LABEL: spec["uuid"], HOST_LABEL: self.host},
            "working_dir": spec["workdir"],
            "hostname": spec["hostname"],
            "tty": spec["tty"],
            "stdin_open": spec["interactive"],
            "mem_limit": memory,
            "memswap_limit": memory,
            "cpu_period": CPU_PERIOD,
            "cpu_quota": int(spec["cpu"] * CPU_PERIOD),
            "network_mode": "none",
        }
        if spec["restart_policy"]:
            kwargs["restart_policy"] = spec["restart_policy"]
        mounts = spec.get("mounts") or []
        kwargs["mounts"] = self._call(lambda c: self.mounts.volumes(c, spec["uuid"], mounts))
        capsule_id = spec.get("capsule_id")
        ports = spec.get("ports") or []
        if not capsule_id:
            container = self._call(lambda c: self._create_on(c, image, kwargs, ports))
        else:
            kwargs["labels"][CAPSULE_LABEL] = capsule_id
            kwargs["hostname"] = None  # the sandbox's: Docker refuses one with a shared netns
            with self._capsule_locks.hold(capsule_id):
                kwargs["network_mode"] = f"container:{self._sandbox(capsule_id, image, ports)}"
                container = self._call(lambda c: c.containers.create(image, **kwargs))
        self._call(lambda c: self.mounts.write_files(container, mounts))

    def start(self, uuid: str) -> None:
        self._on(uuid, lambda c: c.start())

    def stop(self, uuid: str, timeout: int) -> None:
        self._on(uuid, lambda c: c.stop(timeout=timeout))

    def restart(self, uuid: str, timeout: int) -> None:
        self._on(uuid, lambda c: c.restart(timeout=timeout))

    def pause(self, uuid: str) -> None:
        self._on(uuid, lambda c: c.pause())

    def unpause(self, uuid: str) -> None:
        self._on(uuid, lambda c: c.unpause())

    def kill(self, uuid: str, signal: str | int) -> None:
        self._on(uuid, lambda c: c.kill(signal=signal))

    def update(self, uuid: str, cpu: float, memory: int) -> None:
        quota = int(cpu * CPU_PERIOD)
        limit = f"{memory}m"
        self._on(
            uuid,
            lambda c: c.update(
                cpu_period=CPU_PERIOD, cpu_quota=quota, mem_limit=limit, memswap_limit=limit
            ),
        )

    def delete(self, uuid: str) -> None:
        """Remove the container (Docker has the plugin unplug its ports), its volumes, and
        what no container needs any more: its capsule's sandbox, its Docker networks."""
        with suppress(ContainerMissing):
            self._on(uuid, lambda c: c.remove(force=True))
        self._call(lambda c: self.mounts.remove(c, uuid))
        self._sweep_sandboxes()
        self._call(self.networks.sweep)

    # --- networks -------------------------------------------------------------------

    def network_attach(self, uuid: str, port: dict[str, Any]) -> None:
        """Plug one more port into the container (running or not; in a capsule, into its
        sandbox)."""
        holder = self._network_holder(uuid)
        self._call(lambda c: self.networks.connect(c, holder, port))

    def network_detach(self, uuid: str, port_id: str) -> None:
        """Unplug the port from the container (nothing if it holds no such port)."""
        holder = self._network_holder(uuid)
        self._call(lambda c: self.networks.disconnect(c, holder, port_id))

    # --- what the API asks ----------------------------------------------------------

    def logs(
        self, uuid: str, stdout: bool, stderr: bool, timestamps: bool, tail: str, since: int | None
    ) -> str:
        count: int | str = int(tail) if str(tail).isdigit() else "all"
        data = self._on(
            uuid,
            lambda c: c.logs(
                stdout=stdout, stderr=stderr, timestamps=timestamps, tail=count, since=since
            ),
        )
        return data.decode(errors="replace")

    def top(self, uuid: str, ps_args: str | None) -> dict[str, Any]:
        return self._on(uuid, lambda c: c.top(ps_args=ps_args) if ps_args else c.top())

    def stats(self, uuid: str) -> dict[str, Any]:
        raw = self._on(uuid, lambda c: c.stats(stream=False))
        return summarize_stats(raw)

    def execute(self, uuid: str, command: list[str]) -> tuple[str, int]:
        result = self._on(uuid, lambda c: c.exec_run(command, stdout=True, stderr=True))
        return result.output.decode(errors="replace"), result.exit_code

    def commit(self, uuid: str, repository: str, tag: str) -> Iterator[bytes]:
        image = self._on(uuid, lambda c: c.commit(repository=repository, tag=tag))
        return self._save_then_remove(image.id)

    def _save_then_remove(self, image_id: str) -> Iterator[bytes]:
        try:
            with self._unavailable_on_connection_errors():
                yield from self._docker().api.get_image(image_id)
        finally:
            with suppress(docker.errors.ImageNotFound):
                self._call(lambda c: c.images.remove(image_id, force=True))

    # --- interactive streams (the websocket proxy relays them) -----------------------

    def exec_create(self, uuid: str, command: list[str]) -> str:
        """An exec with a tty and stdin, started when its stream is opened; its id."""
        made = self._on(
            uuid, lambda c: c.client.api.exec_create(c.id, command, stdin=True, tty=True)
        )
        return made["Id"]

    def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        self._call(lambda c: c.api.exec_resize(exec_id, height=height, width=width))

    def resize(self, uuid: str, height: int, width: int) -> None:
        self._on(uuid, lambda c: c.resize(height=height, width=width))

    def open_stream(self, uuid: str, exec_id: str | None) -> socket.socket:
        """The raw socket of the container's tty (``exec_id`` None: attach) or of the
        exec's, which starts it."""
        if exec_id is None:
            params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            stream = self._on(uuid, lambda c: c.attach_socket(params=params))
        else:
            stream = self._call(lambda c: c.api.exec_start(exec_id, tty=True, socket=True))
        return getattr(stream, "_sock", stream)

    def states(self) -> dict[str, State]:
        found = self._call(
            lambda c: c.containers.list(all=True, filters=self._mine(), ignore_removed=True)
        )
        return {c.labels[LABEL]: state_of(c.attrs["State"]) for c in found}

    def state(self, uuid: str) -> State | None:
        """One inspect of the container's name (None if there is none, or it is not one
        this host's agent made)."""
        try:
            found = self._call(lambda c: c.api.inspect_container(container_name(uuid)))
        except docker.errors.NotFound:
            return None
        labels = found.get("Config", {}).get("Labels") or {}
        if labels.get(LABEL) != uuid or labels.get(HOST_LABEL) != self.host:
            return None
        return state_of(found["State"])

    def volume_owners(self) -> set[str]:
        return self._call(self.mounts.owners)

    def changes(self) -> Iterator[str]:
        since = int(time.time())
        stream = self._call(
            lambda c: c.events(
                decode=True, since=since, filters={"type": "container", **self._mine()}
            )
        )
        self._events = stream
        with self._unavailable_on_connection_errors():
            for event in stream:
                if event.get("Action", "").split(":")[0] in _STATE_EVENTS:
                    yield event["Actor"]["Attributes"][LABEL]

    def close_changes(self) -> None:
        if self._events is not None:
            self._events.close()

    # --- helpers --------------------------------------------------------------------

    def _mine(self, label: str = LABEL) -> dict[str, list[str]]:
        """A filter for the containers with ``label`` made by this host's agent."""
        return {"label": [label, f"{HOST_LABEL}={self.host}"]}

    @contextmanager
    def _image_in_use(self, spec: dict[str, Any], image_data: ImageData) -> Iterator[str]:
        """The local reference of the container's image, loading it first if need be; an
        image from the image service is not forgotten while the block runs."""
        if spec["image_driver"] != "glance":
            try:
                self._call(lambda c: c.images.get(spec["image"]))
            except docker.errors.ImageNotFound:
                message = f"Image {spec['image']} is not in the local Docker Engine."
                raise ImageError(message) from None
            yield spec["image"]
            return
        image_id = spec["image_id"]
        tag = image_tag(image_id)
        with self._image_locks.hold(image_id):
            try:
                self._call(lambda c: c.images.get(tag))
            except docker.errors.ImageNotFound:
                loaded = self._load(image_data())
                self._call(lambda c: c.images.get(loaded).tag(tag))
            self._image_users[image_id] += 1
        try:
            yield tag
        finally:
            with self._image_locks.hold(image_id):
                self._image_users[image_id] -= 1
                self._image_used[image_id] = time.time()

    def forget_unused_images(self, older_than: float) -> list[str]:
        """Untag the images loaded from the image service that no container of the engine
        uses (any agent's, in any state), that no create of this driver uses now or used
        in the last ``older_than`` seconds (nor before its start), and that were last
        tagged longer ago than that; the tags untagged."""

        def forget(client: docker.DockerClient) -> list[str]:
            used = {c.attrs["Image"] for c in client.containers.list(all=True)}
            cutoff = time.time() - older_than
            forgotten = []
            for image in client.images.list(filters={"reference": f"{IMAGE_REPO}/*"}):
                tagged = _tag_time(image.attrs)
                if image.id in used or tagged is None or tagged > cutoff:
                    continue
                for tag in [t for t in image.tags if t.startswith(IMAGE_REPO + "/")]:
                    image_id = tag.removeprefix(IMAGE_REPO + "/").partition(":")[0]
                    with self._image_locks.hold(image_id):
                        last_use = self._image_used.get(image_id, self._started)
                        if self._image_users[image_id] or last_use > cutoff:
                            continue
                        try:
                            client.images.remove(tag)
                        except docker.errors.APIError as exc:  # a container took it since
                            LOG.debug("image %s stays: %s", tag, exc)
                            continue
                    forgotten.append(tag)
            return forgotten

        return self._call(forget)

    def _sandbox(self, capsule_id: str, image: str, ports: list[dict[str, Any]]) -> str:
        """The running sandbox of the capsule (made from its first container's image,
        which must have ``sleep``, on the capsule's ``ports``), whose network namespace
        its containers join; call with the capsule's lock held."""
        name = sandbox_name(capsule_id)
        try:
            sandbox = self._call(lambda c: c.containers.get(name))
        except docker.errors.NotFound:
            kwargs = {
                "name": name,
                "entrypoint": ["sleep"],
                "command": ["2147483647"],
                "labels": {SANDBOX_LABEL: capsule_id, HOST_LABEL: self.host},
                "network_mode": "none",
                "mem_limit": "16m",
            }
            sandbox = self._call(lambda c: self._create_on(c, image, kwargs, ports))
        if sandbox.status != "running":
            sandbox.start()
        return name

    def _create_on(
        self,
        client: docker.DockerClient,
        image: str,
        kwargs: dict[str, Any],
        ports: list[dict[str, Any]],
    ) -> Any:
        """Create the container on its ports' networks: the first at create (with the
        port's MAC), the others connected at once; without ports, as ``kwargs`` say."""
        if not ports:
            return client.containers.create(image, **kwargs)
        first, *others = ports
        with (
            self.networks.binding(ports),
            self.networks.attaching(client, first) as (
                network,
                endpoint,
            ),
        ):
            container = client.containers.create(
                image,
                **{k: v for k, v in kwargs.items() if k != "network_mode"},
                network=network,
                networking_config={network: endpoint},
                mac_address=first["mac_address"],
            )
        try:
            for port in others:
                self.networks.connect(client, container, port)
        except Exception:
            container.remove(force=True)
            raise
        return container

    def _network_holder(self, uuid: str) -> Any:
        """The container whose network namespace is the container's: itself, or the
        sandbox of its capsule."""
        container = self._on(uuid, lambda c: c)
        capsule_id = container.labels.get(CAPSULE_LABEL)
        if not capsule_id:
            return container
        try:
            return self._call(lambda c: c.containers.get(sandbox_name(capsule_id)))
        except docker.errors.NotFound:
            raise ContainerMissing(f"the sandbox of capsule {capsule_id}") from None

    def _sweep_sandboxes(self) -> None:
        """Remove the sandboxes no container of their capsule needs any more."""

        def labelled(label: str) -> list[Any]:
            return self._call(
                lambda c: c.containers.list(
                    all=True, filters=self._mine(label), ignore_removed=True
                )
            )

        for sandbox in labelled(SANDBOX_LABEL):
            capsule_id = sandbox.labels[SANDBOX_LABEL]
            with self._capsule_locks.hold(capsule_id):
                members = labelled(f"{CAPSULE_LABEL}={capsule_id}")
                if not members:
                    with suppress(docker.errors.NotFound):
                        self._call(lambda c, s=sandbox: s.remove(force=True))

    def _load(self, data: Iterator[bytes]) -> str:
        """Load a ``docker save`` tarball; the reference of the image it held."""
        loaded = None
        for message in self._call(lambda c: c.api.load_image(data, quiet=True)):
            if "error" in message:
                raise ImageError(f"docker load failed: {message['error']}")
            text = message.get("stream", "")
            for prefix in ("Loaded image: ", "Loaded image ID: "):
                if text.startswith(prefix):
                    loaded = text.removeprefix(prefix).strip()
        if loaded is None:
            raise ImageError("docker load reported no image")
        return loaded

    def _on(self, uuid: str, action: Callable[[Any], T]) -> T:
        def run(client: docker.DockerClient) -> T:
            try:
                container = client.containers.get(container_name(uuid))
            except docker.errors.NotFound:
                raise ContainerMissing(uuid) from None
            return action(container)

        return self._call(run)

    def _call(self, action: Callable[[docker.DockerClient], T]) -> T:
        with self._unavailable_on_connection_errors():
            return action(self._docker())

    def _docker(self) -> docker.DockerClient:
        with self._lock:
            if self._client is None:
                self._client = docker.DockerClient(base_url=self.url, timeout=self.timeout)
            return self._client

    @contextmanager
    def _unavailable_on_connection_errors(self) -> Iterator[None]:
        try:
            yield
        except (requests.exceptions.ConnectionError, ConnectionError) as exc:
            raise DriverUnavailable(f"Docker Engine at {self.url} is unreachable: {exc}") from exc
        except docker.errors.APIError:
            raise  # the engine answered: it refused this request
        except docker.errors.DockerException as exc:
            raise DriverUnavailable(f"Docker Engine at {self.url} is unusable: {exc}") from exc


def image_tag(image_id: str) -> str:
    """The engine's tag of an image loaded from the image service."""
    return f"{IMAGE_REPO}/{image_id}:latest"


_TAG_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _tag_time(attrs: dict[str, Any]) -> float | None:
    """When the image was last tagged (Unix time; Docker gives nanoseconds), or None."""
    found = _TAG_TIME.match((attrs.get("Metadata") or {}).get("LastTagTime") or "")
    if found is None:
        return None
    zone = "+00:00" if found[3] == "Z" else found[3]
    seconds = datetime.fromisoformat(found[1] + zone).timestamp()
    return seconds + float(found[2] or 0) if seconds > 0 else None  # year 1: never


def state_of(raw: dict[str, Any]) -> State:
    """Docker's ``State`` of a container as a Stratus state."""
    status = _STATUSES.get(raw.get("Status", ""), states.UNKNOWN)
    if raw.get("Paused"):
        status = states.PAUSED
    reason = raw.get("Error") or None
    detail = None
    if status == states.STOPPED:
        detail = f"Exited ({raw.get('ExitCode', 0)}) {raw.get('FinishedAt', '')}".strip()
    return State(status, reason, detail)


def summarize_stats(raw: dict[str, Any]) -> dict[str, Any]:
    """One ``docker stats`` sample in Zun's shape."""
    cpu, pre = raw.get("cpu_stats", {}), raw.get("precpu_stats", {})
    cpu_delta = cpu.get("cpu_usage", {}).get("total_usage", 0) - pre.get("cpu_usage", {}).get(
        "total_usage", 0
    )
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cpus = cpu.get("online_cpus") or 1
    memory = raw.get("memory_stats", {})
    usage, limit = memory.get("usage", 0), memory.get("limit", 0)
    networks = raw.get("networks") or {}
    blkio = raw.get("blkio_stats", {}).get("io_service_bytes_recursive") or []
    return {
        "CPU %": round(cpu_delta / system_delta * cpus * 100, 2) if system_delta > 0 else 0.0,
        "MEM USAGE(MiB)": round(usage / MIB, 2),
        "MEM LIMIT(MiB)": round(limit / MIB, 2),
        "MEM %": round(usage / limit * 100, 2) if limit else 0.0,
        "BLOCK I/O(B)": "{}/{}".format(
            sum(e["value"] for e in blkio if e.get("op", "").lower() == "read"),
            sum(e["value"] for e in blkio if e.get("op", "").lower() == "write"),
        ),
        "NET I/O(B)": "{}/{}".format(
            sum(n.get("rx_bytes", 0) for n in networks.values()),
            sum(n.get("tx_bytes", 0) for n in networks.values()),
        ),
    }
