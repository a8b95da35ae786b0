"""How servers look on the wire, at the negotiated microversion.

A view is built from a server and what it does not hold itself (its latest fault, its
group, its host's service state), loaded once per response by :class:`Extras`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from sqlalchemy.orm import Session

from stratus.compute import states
from stratus.compute.api.common import (
    PREFIX,
    at_least,
    backend,
    base_url,
    links,
    micro,
    zulu,
)
from stratus.compute.models import (
    Instance,
    InstanceFault,
    InstanceFloatingIP,
    ServerGroupMember,
    Service,
)
from stratus.compute.records import instance_name
from stratus.compute.scheduler.hosts import service_is_up
from stratus.compute.services import AGENT
from stratus.runtime.api.context import RequestContext

PROGRESS_STATUSES = frozenset(
    {"ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"}
)


@dataclass
class Extras:
    """What views of some servers need from other tables."""

    faults: dict[str, InstanceFault] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    host_status: dict[str, str] = field(default_factory=dict)
    floating_ips: dict[str, list[InstanceFloatingIP]] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        request: Request,
        session: Session,
        instances: Sequence[Instance],
        *,
        with_groups: bool = False,
    ) -> Extras:
        """What the views of ``instances`` need (their groups only ``with_groups``, as
        :func:`show` takes it)."""
        uuids = [i.uuid for i in instances]
        extras = cls()
        failed = [i.uuid for i in instances if i.vm_state in (states.ERROR, states.DELETED)]
        if failed:
            faults = session.scalars(
                sa.select(InstanceFault)
                .where(InstanceFault.instance_uuid.in_(failed))
                .order_by(InstanceFault.id)
            )
            for fault in faults:
                extras.faults[fault.instance_uuid] = fault  # the latest wins
        if uuids and _shows_groups(request, with_groups):
            extras.groups = dict(
                session.execute(
                    sa.select(ServerGroupMember.instance_uuid, ServerGroupMember.group_id).where(
                        ServerGroupMember.instance_uuid.in_(uuids)
                    )
                ).all()
            )
        if uuids:
            for floating in session.scalars(
                sa.select(InstanceFloatingIP)
                .where(InstanceFloatingIP.instance_uuid.in_(uuids))
                .order_by(InstanceFloatingIP.floating_ip_address)
            ):
                extras.floating_ips.setdefault(floating.instance_uuid, []).append(floating)
        hosts = {i.host for i in instances if i.host}
        if hosts and at_least(request, "2.16"):
            down_time = backend(request).conf.compute.service_down_time
            for service in session.scalars(
                sa.select(Service).where(Service.host.in_(hosts), Service.binary == AGENT[0])
            ):
                if service.forced_down or not service_is_up(service, down_time):
                    status = "DOWN"
                elif service.disabled:
                    status = "MAINTENANCE"
                else:
                    status = "UP"
                extras.host_status[service.host] = status
        return extras


def _shows_groups(request: Request, with_groups: bool) -> bool:
    return with_groups and at_least(request, "2.71")


def host_id(instance: Instance) -> str:
    """The host, obfuscated per project (what Nova shows as ``hostId``)."""
    if not instance.host:
        return ""
    return hashlib.sha224((instance.project_id + instance.host).encode()).hexdigest()


def addresses(
    instance: Instance, floating_ips: Sequence[InstanceFloatingIP] = ()
) -> dict[str, list[dict[str, Any]]]:
    """The server's addresses by network: each port's fixed IPs, then the floating IPs
    on that port."""
    result: dict[str, list[dict[str, Any]]] = {}
    for vif in instance.network_info or []:
        entries = result.setdefault(vif.get("network_label") or vif["network_id"], [])
        mac = vif.get("mac_address")
        for ip in vif.get("fixed_ips", []):
            entries.append(_address(ip["version"], ip["ip_address"], "fixed", mac))
        for floating in floating_ips:  # IPv4 only, as the network service makes them
            if floating.port_id == vif["port_id"]:
                entries.append(_address(4, floating.floating_ip_address, "floating", mac))
    return result


def _address(version: int, address: str, kind: str, mac: str | None) -> dict[str, Any]:
    return {
        "version": version,
        "addr": address,
        "OS-EXT-IPS:type": kind,
        "OS-EXT-IPS-MAC:mac_addr": mac,
    }


def _flavor(request: Request, instance: Instance, ctx: RequestContext) -> dict[str, Any]:
    flavor = instance.flavor
    if not at_least(request, "2.47"):
        return {
            "id": flavor["id"],
            "links": [{"rel": "bookmark", "href": f"{base_url(request)}/flavors/{flavor['id']}"}],
        }
    body: dict[str, Any] = {
        "vcpus": flavor["vcpus"],
        "ram": flavor["memory_mb"],
        "disk": flavor["root_gb"],
        "ephemeral": flavor.get("ephemeral_gb", 0),
        "swap": flavor.get("swap", 0),
        "original_name": flavor["name"],
    }
    if backend(request).policy.check(ctx, "flavors:extra_specs:read"):
        body["extra_specs"] = flavor.get("extra_specs") or {}
    return body


def _image(request: Request, instance: Instance) -> dict[str, Any] | str:
    if not instance.image_ref:
        return ""
    href = f"{base_url(request)}/images/{instance.image_ref}"
    return {"id": instance.image_ref, "links": [{"rel": "bookmark", "href": href}]}


def summary(request: Request, instance: Instance) -> dict[str, Any]:
    return {
        "id": instance.uuid,
        "name": instance.display_name,
        "links": links(request, "servers", instance.uuid),
    }


def show(
    request: Request,
    instance: Instance,
    ctx: RequestContext,
    extras: Extras,
    *,
    basic: bool = False,
    with_groups: bool = False,
) -> dict[str, Any]:
    """A server's details. ``basic`` is the smaller view update and rebuild answered with
    before 2.75; ``with_groups`` adds ``server_groups`` (show, update, rebuild from 2.71)."""
    policy = backend(request).policy
    status = states.status(instance.vm_state, instance.task_state)
    body: dict[str, Any] = {
        "id": instance.uuid,
        "name": instance.display_name,
        "status": status,
        "tenant_id": instance.project_id,
        "user_id": instance.user_id,
        "metadata": instance.metadata_dict,
        "hostId": host_id(instance),
        "image": _image(request, instance),
        "flavor": _flavor(request, instance, ctx),
        "created": zulu(instance.created_at),
        "updated": zulu(instance.updated_at or instance.created_at),
        "addresses": addresses(instance, extras.floating_ips.get(instance.uuid, ())),
        "accessIPv4": instance.access_ip_v4 or "",
        "accessIPv6": instance.access_ip_v6 or "",
        "links": links(request, "servers", instance.uuid),
        "OS-DCF:diskConfig": instance.request.get("disk_config", "MANUAL"),
    }
    if status in PROGRESS_STATUSES:
        body["progress"] = instance.progress
    if at_least(request, "2.9"):
        body["locked"] = instance.locked
    if at_least(request, "2.19"):
        body["description"] = instance.display_description
    if at_least(request, "2.26"):
        body["tags"] = sorted(t.tag for t in instance.tags)
    if at_least(request, "2.63"):
        body["trusted_image_certificates"] = None
    if at_least(request, "2.73"):
        body["locked_reason"] = instance.locked_reason
    if _shows_groups(request, with_groups):
        group = extras.groups.get(instance.uuid)
        body["server_groups"] = [group] if group else []
    fault = extras.faults.get(instance.uuid)
    if fault is not None:
        body["fault"] = _fault(fault, policy.check(ctx, "servers:fault_details"))
    if basic and not at_least(request, "2.75"):
        return body
    body.update(
        {
            "OS-EXT-AZ:availability_zone": instance.availability_zone or "",
            "config_drive": instance.config_drive,
            "key_name": instance.key_name,
            "OS-SRV-USG:launched_at": micro(instance.launched_at),
            "OS-SRV-USG:terminated_at": micro(instance.terminated_at),
            "OS-EXT-STS:task_state": instance.task_state,
            "OS-EXT-STS:vm_state": instance.vm_state,
            "OS-EXT-STS:power_state": instance.power_state,
            "os-extended-volumes:volumes_attached": [],
            "security_groups": [
                {"name": name} for name in instance.request.get("security_groups", ["default"])
            ],
        }
    )
    if policy.check(ctx, "servers:admin_attributes"):
        body.update(
            {
                "OS-EXT-SRV-ATTR:host": instance.host,
                "OS-EXT-SRV-ATTR:instance_name": instance_name(instance.uuid),
                "OS-EXT-SRV-ATTR:hypervisor_hostname": instance.node,
            }
        )
        if at_least(request, "2.3"):
            body.update(
                {
                    "OS-EXT-SRV-ATTR:reservation_id": instance.reservation_id,
                    "OS-EXT-SRV-ATTR:launch_index": instance.launch_index,
                    "OS-EXT-SRV-ATTR:hostname": instance.hostname,
                    "OS-EXT-SRV-ATTR:kernel_id": instance.kernel_id,
                    "OS-EXT-SRV-ATTR:ramdisk_id": instance.ramdisk_id,
                    "OS-EXT-SRV-ATTR:root_device_name": instance.root_device_name,
                    "OS-EXT-SRV-ATTR:user_data": instance.user_data,
                }
            )
    if at_least(request, "2.16") and policy.check(ctx, "servers:host_status"):
        body["host_status"] = (
            extras.host_status.get(instance.host or "", "") if instance.host else ""
        )
    return body


def _fault(fault: InstanceFault, with_details: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": fault.code,
        "created": zulu(fault.created_at),
        "message": fault.message,
    }
    if with_details or fault.code != 500:
        body["details"] = fault.details
    return body


def server_url(request: Request, server_id: str) -> str:
    return f"{base_url(request)}{PREFIX}/servers/{server_id}"
