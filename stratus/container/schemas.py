"""Request bodies of the container API, with Zun's field rules."""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

DOCKER_MIN_MEMORY_MB = 6  # Docker refuses a memory limit below 6 MB
_MEMORY = re.compile(r"^([0-9]+)([bBkKmMgG]?)$")
_UNIT_MB = {"b": 1 / 1024**2, "k": 1 / 1024, "m": 1, "g": 1024, "": 1}
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_HOSTNAME = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
RESTART_NAMES = ("no", "on-failure", "always", "unless-stopped")
MAX_MOUNTS = 8
# A bind mount's file travels in the container's record and in every spec the agent gets.
MAX_FILE_BYTES = 64 * 1024


def memory_mb(value: str | int | None) -> int | None:
    """Zun's memory: MB as an integer or a string with an optional b/k/m/g unit."""
    if value is None:
        return None
    match = _MEMORY.match(str(value).strip())
    if not match:
        raise ValueError(f"memory {value!r} is not a size such as 512, '512M' or '1G'")
    mb = int(int(match.group(1)) * _UNIT_MB[match.group(2).lower()])
    if mb < DOCKER_MIN_MEMORY_MB:
        raise ValueError(f"memory must be at least {DOCKER_MIN_MEMORY_MB} MB")
    return mb


def name_rule(value: str | None) -> str | None:
    if value is not None and not _NAME.match(value):
        raise ValueError("name must start with a letter or digit and hold only [a-zA-Z0-9_.-]")
    return value


Name = Annotated[str | None, Field(None, max_length=255), AfterValidator(name_rule)]
Memory = Annotated[str | int | None, AfterValidator(memory_mb)]
Cpu = Annotated[float | None, Field(None, gt=0)]


class RestartPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    Name: Literal["no", "on-failure", "always", "unless-stopped"]
    MaximumRetryCount: int | str = 0

    @field_validator("MaximumRetryCount")
    @classmethod
    def _count(cls, value: int | str) -> int:
        if not str(value).isdigit():
            raise ValueError("MaximumRetryCount must be a non-negative integer")
        return int(value)


class Net(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    network: str | None = None
    port: str | None = None
    v4_fixed_ip: str | None = Field(None, alias="v4-fixed-ip")
    v6_fixed_ip: str | None = Field(None, alias="v6-fixed-ip")


class Mount(BaseModel):
    """One of ``mounts``, as python-zunclient sends it: a new local volume of ``size`` GiB
    (type ``volume``, the default) or a file to inject whose content is ``source``,
    base64-encoded (type ``bind``). A volume's ``source`` would name a block-storage volume,
    which needs the volume service."""

    model_config = ConfigDict(extra="forbid")

    destination: str = Field(min_length=1, max_length=255)
    type: Literal["volume", "bind"] = "volume"
    source: str | None = Field(None, min_length=1)
    size: int | None = Field(None, gt=0)  # GiB

    @field_validator("destination")
    @classmethod
    def _destination(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"destination {value!r} must be an absolute path")
        if any(ord(char) < 32 for char in value):
            raise ValueError("destination must not hold control characters")
        path = posixpath.normpath("/" + value.lstrip("/"))
        if path == "/":
            raise ValueError("destination cannot be the container's root /")
        return path

    @field_validator("size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        """An integer, or the digits the CLI sends (``size=1``); never a boolean."""
        if isinstance(value, bool) or (isinstance(value, str) and not value.isdigit()):
            raise ValueError("size must be a whole number of GiB")
        return value

    @model_validator(mode="after")
    def _kind(self) -> Mount:
        if self.type == "bind":
            if self.size is not None:
                raise ValueError("size is for volumes; a bind mount injects the file in source")
            if self.source is None:
                raise ValueError("a bind mount needs source: the file's content, base64-encoded")
            if len(_decoded(self.source)) > MAX_FILE_BYTES:
                raise ValueError(f"a bind mount's file holds at most {MAX_FILE_BYTES} bytes")
        elif self.source is not None:
            raise ValueError(
                f"source {self.source!r} names a block-storage volume: those need the volume "
                "service, which this cloud does not run yet; size=<GiB> makes a local volume"
            )
        elif self.size is None:
            raise ValueError("a volume mount needs size: the GiB of a new local volume")
        return self


def _decoded(source: str) -> bytes:
    try:
        return base64.b64decode(source, validate=True)
    except binascii.Error:
        raise ValueError(
            "a bind mount's source must be the file's content, base64-encoded"
        ) from None


class ContainerCreate(BaseModel):
    """POST /v1/containers. Fields the CLI sends empty (hints) are accepted empty."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field(min_length=1, max_length=255)
    name: Name = None
    command: list[str] | str | None = None
    entrypoint: list[str] | str | None = None
    cpu: Cpu = None
    memory: Memory = None
    environment: dict[str, str] = {}
    labels: dict[str, str] = {}
    workdir: str | None = Field(None, max_length=255)
    hostname: str | None = None
    restart_policy: RestartPolicy | None = None
    interactive: bool = False
    tty: bool = False
    image_driver: Literal["glance", "docker"] | None = None
    image_pull_policy: Literal["ifnotpresent", "always", "never"] | None = None
    security_groups: list[str] = []
    nets: list[Net] = []
    availability_zone: str | None = None
    auto_remove: bool = False
    host: str | None = None
    hints: dict[str, Any] = {}
    mounts: list[Mount] = Field([], max_length=MAX_MOUNTS)
    privileged: Literal[False] = False
    runtime: Literal["runc"] | None = None
    disk: int | None = Field(None, ge=0)
    registry: None = None

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, value: str | None) -> str | None:
        if value is not None and not _HOSTNAME.match(value):
            raise ValueError("hostname must be a DNS label")
        return value

    @field_validator("mounts")
    @classmethod
    def _one_mount_per_destination(cls, value: list[Mount]) -> list[Mount]:
        destinations = [mount.destination for mount in value]
        for destination in destinations:
            if destinations.count(destination) > 1:
                raise ValueError(f"destination {destination} is mounted more than once")
        return value


class ContainerUpdate(BaseModel):
    """PATCH /v1/containers/{id}: a new name, cpu or memory."""

    model_config = ConfigDict(extra="forbid")

    name: Name = None
    cpu: Cpu = None
    memory: Memory = None


class QuotaUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    containers: int | None = Field(None, ge=-1)
    cpu: float | None = Field(None, ge=-1)
    memory: int | None = Field(None, ge=-1)
    disk: int | None = Field(None, ge=-1)


class CapsuleCreate(BaseModel):
    """POST /v1/capsules: the template file, as python-zunclient parsed it."""

    model_config = ConfigDict(extra="forbid")

    template: dict[str, Any]
