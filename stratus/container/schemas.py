"""Request bodies of the container API, with Zun's field rules."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

DOCKER_MIN_MEMORY_MB = 6  # Docker refuses a memory limit below 6 MB
_MEMORY = re.compile(r"^([0-9]+)([bBkKmMgG]?)$")
_UNIT_MB = {"b": 1 / 1024**2, "k": 1 / 1024, "m": 1, "g": 1024, "": 1}
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_HOSTNAME = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
RESTART_NAMES = ("no", "on-failure", "always", "unless-stopped")


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


class ContainerCreate(BaseModel):
    """POST /v1/containers. Fields the CLI sends empty (mounts, hints) are accepted empty."""

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
    mounts: list[dict[str, Any]] = Field([], max_length=0)
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
