"""How containers, hosts and services look on the wire (Zun v1)."""

from __future__ import annotations

import ipaddress
import shlex
from typing import Any

from stratus.container.models import Action, ActionEvent, Container, Host
from stratus.runtime.api.microversion import APIVersion


def time(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def container(
    row: Container, base_url: str, version: APIVersion, show_host: bool
) -> dict[str, Any]:
    url = f"{base_url}/v1/containers/{row.uuid}"
    command: list[str] | str | None = row.command
    if row.command is not None and not version.matches("1.20"):
        command = shlex.join(row.command)
    view: dict[str, Any] = {
        "uuid": row.uuid,
        "links": [{"href": url, "rel": "self"}, {"href": url, "rel": "bookmark"}],
        "name": row.name,
        "project_id": row.project_id,
        "user_id": row.user_id,
        "image": row.image,
        "image_driver": row.image_driver,
        "image_pull_policy": None,
        "command": command,
        "entrypoint": row.entrypoint,
        "cpu": row.cpu,
        "cpu_policy": "shared",
        "memory": str(row.memory),
        "disk": 0,
        "environment": row.environment,
        "labels": row.labels,
        "workdir": row.workdir,
        "hostname": row.hostname,
        "restart_policy": row.restart_policy,
        "interactive": row.interactive,
        "tty": row.tty,
        "auto_remove": row.auto_remove,
        "auto_heal": False,
        "privileged": False,
        "runtime": "runc",
        "security_groups": row.security_groups,
        "addresses": row.addresses,
        "ports": [],
        "mounts": [mount(entry) for entry in row.mounts or []],
        "healthcheck": {},
        "registry_id": None,
        "status": row.status,
        "status_reason": row.status_reason,
        "status_detail": row.status_detail,
        "task_state": row.task_state,
        "created_at": time(row.created_at),
        "updated_at": time(row.updated_at),
    }
    if show_host:
        view["host"] = row.host
    return view


def mount(entry: dict[str, Any]) -> dict[str, Any]:
    """A mount as shown: its type, destination and (a volume's) size in GiB. A file's
    content is not shown again."""
    return {"type": entry["type"], "destination": entry["destination"], "size": entry.get("size")}


def networks(nets: list[dict[str, Any]], version: APIVersion) -> list[dict[str, Any]]:
    """network_list: one entry per port with its fixed IPs (1.18), per address before."""
    shown: list[dict[str, Any]] = []
    for entry in nets:
        port = {"net_id": entry["network_id"], "port_id": entry["port_id"]}
        ips = [
            {
                "subnet_id": ip["subnet_id"],
                "version": ipaddress.ip_address(ip["ip_address"]).version,
                "ip_address": ip["ip_address"],
            }
            for ip in entry["fixed_ips"]
        ]
        if version.matches("1.18"):
            shown.append({**port, "fixed_ips": ips})
        else:
            shown.extend({**port, **ip} for ip in ips)
    return shown


def host(row: Host, base_url: str, used: tuple[float, int], up: bool) -> dict[str, Any]:
    url = f"{base_url}/v1/hosts/{row.uuid}"
    return {
        "uuid": row.uuid,
        "hostname": row.hostname,
        "links": [{"href": url, "rel": "self"}, {"href": url, "rel": "bookmark"}],
        "cpus": row.cpus,
        "cpu_used": used[0],
        "mem_total": row.memory_mb,
        "mem_used": used[1],
        "disk_total": 0,
        "disk_used": 0,
        "total_containers": None,
        "availability_zone": row.availability_zone,
        "enable_cpu_pinning": False,
        "runtimes": ["runc"],
        "architecture": "x86_64",
        "os_type": "linux",
        "kernel_version": None,
        "labels": {},
        "state": "up" if up else "down",
        "driver_status": row.driver_status,
    }


def service(row: Host, up: bool) -> dict[str, Any]:
    return {
        "id": row.uuid,
        "host": row.hostname,
        "binary": "zun-compute",
        "availability_zone": row.availability_zone,
        "state": "up" if up else "down",
        "disabled": row.disabled,
        "disabled_reason": None,
        "forced_down": False,
        "report_count": row.report_count,
        "last_seen_up": time(row.last_seen_up),
        "created_at": time(row.created_at),
        "updated_at": time(row.updated_at),
    }


def action(row: Action, events: list[ActionEvent] | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "action": row.action,
        "container_uuid": row.container_uuid,
        "request_id": row.request_id,
        "project_id": row.project_id,
        "user_id": row.user_id,
        "message": row.message,
        "start_time": time(row.start_time),
    }
    if events is not None:
        view["events"] = [
            {
                "event": event.event,
                "start_time": time(event.start_time),
                "finish_time": time(event.finish_time),
                "result": event.result,
                "traceback": event.traceback,
            }
            for event in events
        ]
    return view
