"""Capsule templates (Zun's pod-like YAML, which the client sends parsed) and a
capsule's state, which is its containers'."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from stratus.container import states
from stratus.container.schemas import ContainerCreate, Net, name_rule
from stratus.runtime.api.errors import BadRequest

# spec.restartPolicy -> Docker's restart policy name
_RESTART = {"always": "always", "onfailure": "on-failure", "never": "no"}


@dataclass(frozen=True)
class Template:
    name: str | None
    labels: dict[str, str]
    restart_policy: dict[str, Any] | None
    containers: list[ContainerCreate]
    nets: list[Net]  # the capsule's one port (the template's top-level ``nets``)


def parse(template: Any) -> Template:
    """The capsule a template asks for; a 400 that says what is wrong otherwise."""
    if not isinstance(template, dict):
        raise BadRequest("The capsule template must be a mapping.")
    if str(template.get("kind", "")).lower() != "capsule":
        raise BadRequest("The capsule template's kind must be capsule.")
    metadata, spec = template.get("metadata") or {}, template.get("spec")
    if not isinstance(metadata, dict) or not isinstance(spec, dict):
        raise BadRequest("The capsule template needs a metadata mapping and a spec mapping.")
    try:
        name = name_rule(metadata.get("name"))
    except ValueError as exc:
        raise BadRequest(f"The capsule's {exc}") from None
    restart = spec.get("restartPolicy")
    if restart is not None and str(restart).lower() not in _RESTART:
        raise BadRequest("spec.restartPolicy must be Always, OnFailure or Never.")
    policy = {"Name": _RESTART[str(restart).lower()]} if restart else None
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        raise BadRequest("spec.containers must list at least one container.")
    _refuse_volumes(spec, containers)
    return Template(
        name=name,
        labels={str(k): str(v) for k, v in (metadata.get("labels") or {}).items()},
        restart_policy=policy,
        containers=[_container(i, c, policy) for i, c in enumerate(containers)],
        nets=_nets(template.get("nets")),
    )


def _refuse_volumes(spec: dict[str, Any], containers: list[Any]) -> None:
    """A capsule's volumes (``spec.volumes``, mounted by ``volumeMounts``) are block-storage
    volumes its containers share: refused until the volume service exists, rather than
    ignored."""
    mounting = [c for c in containers if isinstance(c, dict) and c.get("volumeMounts")]
    if spec.get("volumes") or mounting:
        raise BadRequest(
            "Capsule volumes (spec.volumes, volumeMounts) are block-storage volumes: those "
            "need the volume service, which this cloud does not run yet."
        )


def _nets(raw: Any) -> list[Net]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(entry, dict) for entry in raw):
        raise BadRequest("The capsule template's nets must be a list of mappings.")
    if len(raw) > 1:
        raise BadRequest("A capsule has one port: its template's nets lists one network or port.")
    try:
        return [Net(**entry) for entry in raw]
    except ValidationError as exc:
        raise BadRequest(f"The capsule template's nets are invalid: {_problems(exc)}") from None


def _container(index: int, raw: Any, restart: dict[str, Any] | None) -> ContainerCreate:
    if not isinstance(raw, dict):
        raise BadRequest(f"spec.containers[{index}] must be a mapping.")
    requests = (raw.get("resources") or {}).get("requests") or {}
    command = list(raw.get("command") or []) + list(raw.get("args") or [])
    fields: dict[str, Any] = {
        "image": raw.get("image"),
        "name": raw.get("name"),
        "command": command or None,
        "workdir": raw.get("workDir"),
        "environment": {str(k): str(v) for k, v in (raw.get("env") or {}).items()},
        "cpu": requests.get("cpu"),
        "memory": requests.get("memory"),
        "image_driver": raw.get("imageDriver"),
        "restart_policy": restart,
        "interactive": bool(raw.get("stdin", False)),
        "tty": bool(raw.get("tty", False)),
    }
    try:
        return ContainerCreate(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise BadRequest(f"spec.containers[{index}] is invalid: {_problems(exc)}") from None


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def status(members: Sequence[str]) -> str:
    """One state for the capsule from its containers' states: the most pressing one."""
    for state in (states.DELETING, states.ERROR, states.CREATING):
        if state in members:
            return state
    others = [m for m in members if m != states.RUNNING]
    return others[0] if others else states.RUNNING
