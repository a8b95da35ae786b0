"""A container's mounts in the Docker Engine (the spec's ``mounts``, see
:mod:`stratus.container.rpc`): the agent's side of container storage.

A ``volume`` mount is a Docker volume of the ``local`` driver, ``stratus-<uuid>-<index>``
(the container's uuid, the mount's index in its ``mounts``), labelled with the container's
uuid, this agent's host and the size asked for, and mounted read-write at the destination.
It is made with the container (kept if it is there already: a create redone), so what the
container writes there outlives restarts of the container and of the agent; it is removed
once the container is, never while Docker still uses it. As for any new named volume,
Docker copies what the image holds at the destination into the empty volume on first use.

What is enforced about ``size``: nothing. The local driver keeps a volume as a directory
under the engine's data root, on the host's filesystem; on ext4 (this project's hosts)
it takes no size option, so the size is recorded (on the container's record, in its view
and as the volume's label) and a container can fill its volume up to the free space of
that filesystem. A real cap needs a filesystem with project quotas (xfs ``pquota``) or a
block device per volume, which is what block-storage volumes will be.

A ``bind`` mount, Zun's file injection, is not a bind mount from the host here: the file
(its content decoded from ``source``, mode 0644, owned by root, missing parent directories
made) is written into the container's own filesystem after it is made and before it first
starts. It lasts as long as the container, and a commit of the container includes it.
"""

from __future__ import annotations

import base64
import io
import tarfile
import time
from contextlib import suppress
from typing import Any

import docker
import docker.errors
import docker.types

SIZE_LABEL = "org.openstack.stratus.size-gib"  # on a volume: the size asked for, not a cap


def volume_name(uuid: str, index: int) -> str:
    return f"stratus-{uuid}-{index}"


class DockerMounts:
    def __init__(self, owner_label: str, labels: dict[str, str]) -> None:
        self.owner_label = owner_label  # the label whose value is the owning container's uuid
        self.labels = labels  # what marks this host's volumes

    def volumes(
        self, client: docker.DockerClient, uuid: str, mounts: list[dict[str, Any]]
    ) -> list[docker.types.Mount]:
        """The container's volumes, made unless they are there, as Docker mounts them."""
        found = []
        for index, mount in enumerate(mounts):
            if mount["type"] != "volume":
                continue
            name = volume_name(uuid, index)
            labels = {self.owner_label: uuid, SIZE_LABEL: str(mount["size"]), **self.labels}
            client.volumes.create(name, driver="local", labels=labels)
            found.append(docker.types.Mount(mount["destination"], name, type="volume"))
        return found

    @staticmethod
    def write_files(container: Any, mounts: list[dict[str, Any]]) -> None:
        """Write the ``bind`` mounts' files into the (made, not yet started) container."""
        files = [mount for mount in mounts if mount["type"] == "bind"]
        if files:
            container.put_archive("/", _archive(files))

    def owners(self, client: docker.DockerClient) -> set[str]:
        """The uuids of the containers that this host's volumes belong to."""
        found = client.volumes.list(filters={"label": self._mine(self.owner_label)})
        return {volume.attrs["Labels"][self.owner_label] for volume in found}

    def remove(self, client: docker.DockerClient, uuid: str) -> None:
        """Remove the container's volumes (Docker refuses while a container uses one)."""
        mine = self._mine(f"{self.owner_label}={uuid}")
        for volume in client.volumes.list(filters={"label": mine}):
            with suppress(docker.errors.NotFound):
                volume.remove()

    def _mine(self, label: str) -> list[str]:
        return [label, *(f"{key}={value}" for key, value in self.labels.items())]


def _archive(files: list[dict[str, Any]]) -> bytes:
    """A tar stream holding each file at its destination (relative to ``/``)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for mount in files:
            data = base64.b64decode(mount["source"])
            info = tarfile.TarInfo(mount["destination"].lstrip("/"))
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
