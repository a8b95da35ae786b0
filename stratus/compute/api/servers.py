"""Servers: create (validated against the other services, quota, then handed to the
conductor), list with filters, show, update, delete."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import string
import uuid as uuid_module
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.orm import Session

from stratus.compute import quotas, records, states, zones
from stratus.compute.api import networks, server_views
from stratus.compute.api.common import (
    PREFIX,
    Backend,
    at_least,
    backend,
    project_scoped,
    request_id,
    transaction,
)
from stratus.compute.api.flavors import find_flavor
from stratus.compute.api.server_access import (
    authorize,
    cast_agent,
    check_unlocked,
    find_server,
)
from stratus.compute.api.server_list import list_servers
from stratus.compute.clients.images import properties
from stratus.compute.conductor.manager import TOPIC as CONDUCTOR_TOPIC
from stratus.compute.conductor.manager import mark_deleted
from stratus.compute.disk_formats import unbootable
from stratus.compute.flavors import snapshot
from stratus.compute.models import (
    Instance,
    InstanceMetadata,
    InstanceTag,
    KeyPair,
    ServerGroup,
    ServerGroupMember,
    Service,
)
from stratus.compute.networking import Networking
from stratus.compute.scheduler.hosts import service_is_up
from stratus.compute.services import AGENT
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Forbidden, NotFound
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import json_body
from stratus.runtime.db import new_id

router = Router(prefix=PREFIX + "/servers")

Name = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^\S(.*\S)?$")]
Text255 = Annotated[str, StringConstraints(max_length=255)]
Key255 = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=60, pattern=r"^[^,/]*$")]
MAX_TAGS = 50
MAX_USER_DATA = 65535
ADMIN_PASSWORD_LENGTH = 12


class NetworkItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uuid: str | None = None
    port: str | None = None
    fixed_ip: str | None = None
    tag: Annotated[str, StringConstraints(min_length=1, max_length=60)] | None = None


class SecurityGroupRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Key255


class Personality(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: Key255
    contents: str


class NewServer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    imageRef: str | None = None  # noqa: N815 - the wire names
    flavorRef: str | int  # noqa: N815
    networks: Literal["none", "auto"] | list[NetworkItem] | None = None
    key_name: Key255 | None = None
    user_data: str | None = None
    metadata: dict[Key255, Text255] = Field(default_factory=dict)
    security_groups: list[SecurityGroupRef] | None = None
    availability_zone: Key255 | None = None
    min_count: Annotated[int, Field(ge=1)] = 1
    max_count: Annotated[int, Field(ge=1)] | None = None
    return_reservation_id: bool = False
    accessIPv4: str | None = None  # noqa: N815
    accessIPv6: str | None = None  # noqa: N815
    adminPass: str | None = None  # noqa: N815
    config_drive: bool | None = None
    description: Text255 | None = None
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] | None = None
    personality: list[Personality] | None = None
    host: Key255 | None = None
    hypervisor_hostname: Key255 | None = None
    trusted_image_certificates: list[str] | None = None
    block_device_mapping_v2: list[dict[str, Any]] | None = None
    disk_config: Literal["AUTO", "MANUAL"] | None = Field(None, alias="OS-DCF:diskConfig")


class CreateBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    server: NewServer
    hints: dict[str, Any] | None = Field(None, alias="os:scheduler_hints")
    legacy_hints: dict[str, Any] | None = Field(None, alias="OS-SCH-HNT:scheduler_hints")


class ServerChange(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: Name | None = None
    accessIPv4: str | None = None  # noqa: N815
    accessIPv6: str | None = None  # noqa: N815
    description: Text255 | None = None
    disk_config: Literal["AUTO", "MANUAL"] | None = Field(None, alias="OS-DCF:diskConfig")


class UpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    server: ServerChange


# Fields the create body takes, and the microversions that brought or took them.
_SINCE = {
    "description": "2.19",
    "tags": "2.52",
    "trusted_image_certificates": "2.63",
    "host": "2.74",
    "hypervisor_hostname": "2.74",
}
_UNTIL = {"personality": "2.56"}


def _check_fields(request: Request, new: NewServer) -> None:
    given = new.model_fields_set
    for name, since in _SINCE.items():
        if name in given and not at_least(request, since):
            raise BadRequest(f"Invalid input: 'server.{name}' is not an allowed field")
    for name, until in _UNTIL.items():
        if name in given and at_least(request, f"2.{int(until.split('.')[1]) + 1}"):
            raise BadRequest(f"Invalid input: 'server.{name}' is not an allowed field")
    if isinstance(new.networks, list):
        tagged = any(item.tag for item in new.networks)
        if tagged and not (at_least(request, "2.32") and not _between(request, "2.37", "2.41")):
            raise BadRequest("Invalid input: network 'tag' is not allowed at this version.")
        if at_least(request, "2.37"):
            for item in new.networks:
                if item.uuid is not None:
                    _uuid(item.uuid, "networks.uuid")
    if new.networks is None and at_least(request, "2.37"):
        raise BadRequest("Invalid input: 'server.networks' is required.")
    if isinstance(new.networks, str) and not at_least(request, "2.37"):
        raise BadRequest("Invalid input: 'server.networks' must be a list.")


def _between(request: Request, low: str, high: str) -> bool:
    return at_least(request, low) and not at_least(request, f"2.{int(high.split('.')[1]) + 1}")


def _uuid(value: str, what: str) -> str:
    try:
        uuid_module.UUID(value)
    except ValueError as exc:
        raise BadRequest(f"Invalid input for {what}: {value!r} is not a UUID.") from exc
    return value


def ref_id(ref: str | int) -> str:
    """An id, or the last part of a link to it (Nova accepts both)."""
    return str(ref).rstrip("/").rsplit("/", 1)[-1]


def hostname_of(name: str, fallback: str) -> str:
    """A DNS-safe host name made of a server name."""
    cleaned = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.")[:63].strip("-.")
    return cleaned or f"server-{fallback}"


def user_data_of(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("User data needs to be valid base 64.") from exc
    if len(decoded) > MAX_USER_DATA:
        raise BadRequest(f"User data is larger than {MAX_USER_DATA} bytes.")
    return raw


def check_image(image: dict[str, Any] | None, image_id: str, flavor: dict[str, Any]) -> None:
    """The image exists for the caller, is active, is a disk a server can boot from and
    fits the flavor."""
    if image is None:
        raise BadRequest(f"Image {image_id} could not be found.")
    if image.get("status") != "active":
        raise BadRequest(f"Image {image_id} is not active.")
    why = unbootable(image)
    if why is not None:
        raise BadRequest(f"Image {image_id} {why}.")
    if (image.get("min_ram") or 0) > flavor["memory_mb"]:
        raise BadRequest("Flavor's memory is too small for requested image.")
    if (image.get("min_disk") or 0) > flavor["root_gb"] and flavor["root_gb"]:
        raise BadRequest("Flavor's disk is too small for requested image.")


def _placement(
    request: Request, session: Session, ctx: RequestContext, new: NewServer
) -> dict[str, Any]:
    """The zone (and host or node, for admins) the server must go to."""
    api = backend(request)
    default = api.conf.compute.default_availability_zone
    requested = new.availability_zone or api.conf.compute.default_schedule_zone or None
    placement: dict[str, Any] = {"availability_zone": None}
    force_host = force_node = None
    if requested:
        zone, _, rest = requested.partition(":")
        force_host, _, force_node = rest.partition(":")
        if force_host or force_node:
            api.policy.enforce(ctx, "servers:requested_destination")
        placement["availability_zone"] = zone or None
    if new.host or new.hypervisor_hostname:
        api.policy.enforce(ctx, "servers:requested_destination")
        force_host, force_node = new.host or force_host, new.hypervisor_hostname or force_node
    hosts = set(session.scalars(sa.select(Service.host).where(Service.binary == AGENT[0])))
    zone = placement["availability_zone"]
    if zone is not None:
        host_zones = zones.host_zones(session)
        known = {host_zones.get(host, default) for host in hosts}
        if zone not in known:
            raise BadRequest("The requested availability zone is not available")
    if force_host:
        if force_host not in hosts:
            raise BadRequest(f"Compute host {force_host} could not be found.")
        placement["force_host"] = force_host
    if force_node:
        placement["force_node"] = force_node
        placement.setdefault("force_host", force_host or None)
    return placement


def _group(session: Session, ctx: RequestContext, hints: dict[str, Any]) -> ServerGroup | None:
    group_id = hints.get("group")
    if group_id is None:
        return None
    if not isinstance(group_id, str):
        raise BadRequest("Invalid input: scheduler hint 'group' must be a server group id.")
    group = session.get(ServerGroup, group_id)
    if group is None or group.project_id != ctx.project_id:
        raise BadRequest(f"Invalid server group {group_id}.")
    return group


def _how_many(
    session: Session, api: Backend, project: str, new: NewServer, flavor: dict[str, Any]
) -> int:
    """As many servers as asked, or fewer (down to min_count) when the quota is short."""
    wanted = new.max_count or new.min_count
    if wanted < new.min_count:
        raise BadRequest("min_count must be <= max_count")
    for count in range(wanted, new.min_count - 1, -1):
        try:
            quotas.check_servers(
                session, api.conf, project, count, flavor["vcpus"], flavor["memory_mb"]
            )
            return count
        except quotas.Exceeded as exc:
            if count == new.min_count:
                raise Forbidden(str(exc)) from exc
    raise AssertionError("unreachable")


@router.post("", status_code=202, summary="Create one or more servers")
def create_server(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    body: CreateBody = Depends(json_body(CreateBody)),
) -> JSONResponse:
    project = project_scoped(ctx)
    api.policy.enforce(ctx, "servers:write", {"project_id": project})
    new = body.server
    _check_fields(request, new)
    if new.trusted_image_certificates:
        raise BadRequest("Trusted image certificates are not supported by this cloud.")
    if new.personality:
        raise BadRequest("File injection (personality) is not supported by this cloud.")
    image_id = _boot_image(new)
    hints = body.hints or body.legacy_hints or {}
    user_data = user_data_of(new.user_data)
    groups = [g.name for g in new.security_groups or []] or [networks.DEFAULT_GROUP]
    with api.db.session() as session:
        flavor_row = usable_flavor(session, ctx, ref_id(new.flavorRef))
        flavor = snapshot(flavor_row)
        key = None
        if new.key_name is not None:
            key = session.scalar(
                sa.select(KeyPair).where(
                    KeyPair.user_id == ctx.user_id, KeyPair.name == new.key_name
                )
            )
            if key is None:
                raise BadRequest("Invalid key_name provided.")
        check_metadata_quota(session, api, project, len(new.metadata))
        placement = _placement(request, session, ctx, new)
        group = _group(session, ctx, hints)
    count = new.max_count or new.min_count
    # The image and the networks are looked up at once (two services, two round trips).
    with ThreadPoolExecutor(1, thread_name_prefix="create-networks") as pool:
        resolving = pool.submit(
            networks.resolve,
            api.network,
            ctx,
            _networks(new),
            groups,
            count,
            external=api.policy.check(ctx, "network:attach_external_network"),
        )
        image = api.images.show(image_id, token=ctx.token)
        check_image(image, image_id, flavor)
        assert image is not None
        network_request = resolving.result()
    image_props = properties(image)
    reservation = "r-" + secrets.token_hex(4)
    request_spec = {
        **placement,
        "networks": network_request.networks,
        "security_groups": groups,
        "security_group_ids": network_request.security_group_ids,
        "disk_config": new.disk_config or "MANUAL",
        "hints": hints,
        "group": group.id if group else None,
    }
    uuids: list[str] = []
    with api.db.session() as session:
        count = _how_many(session, api, project, new, flavor)
        if group is not None:
            members = quotas.group_members(session, group.id)
            limit = quotas.limits(session, api.conf, project)["server_group_members"]
            if limit != quotas.UNLIMITED and members + count > limit:
                raise Forbidden("Quota exceeded, too many servers in group")
        for index in range(count):
            server_uuid = new_id()
            name = new.name if count == 1 else f"{new.name}-{index + 1}"
            instance = Instance(
                uuid=server_uuid,
                display_name=name,
                display_description=new.description,
                hostname=hostname_of(name, server_uuid),
                project_id=project,
                user_id=ctx.user_id,
                image_ref=image_id,
                flavor=flavor,
                vm_state=states.BUILDING,
                task_state=states.SCHEDULING,
                availability_zone=placement["availability_zone"],
                key_name=key.name if key else None,
                key_data=key.public_key if key else None,
                user_data=user_data,
                config_drive="True" if new.config_drive else "",
                access_ip_v4=new.accessIPv4,
                access_ip_v6=new.accessIPv6,
                kernel_id=str(image_props.get("kernel_id") or ""),
                ramdisk_id=str(image_props.get("ramdisk_id") or ""),
                reservation_id=reservation,
                launch_index=index,
                image_properties=image_props,
                request=request_spec,
            )
            instance.metadata_items = [
                InstanceMetadata(key=k, value=v) for k, v in new.metadata.items()
            ]
            instance.tags = [InstanceTag(tag=t) for t in sorted(set(new.tags or []))]
            session.add(instance)
            if group is not None:
                session.add(ServerGroupMember(group_id=group.id, instance_uuid=server_uuid))
            session.flush()
            records.start_action(
                session, server_uuid, "create", request_id(request), ctx.user_id, project
            )
            uuids.append(server_uuid)
    _recheck_quota(api, project, uuids, flavor)
    api.bus.cast(
        CONDUCTOR_TOPIC, "build_instances", instance_uuids=uuids, request_id=request_id(request)
    )
    if new.return_reservation_id:
        return JSONResponse({"reservation_id": reservation}, status_code=202)
    password = new.adminPass or "".join(
        secrets.choice(string.ascii_letters + string.digits) for _ in range(ADMIN_PASSWORD_LENGTH)
    )
    server = {
        "id": uuids[0],
        "links": server_views.links(request, "servers", uuids[0]),
        "OS-DCF:diskConfig": request_spec["disk_config"],
        "security_groups": [{"name": name} for name in groups],
        "adminPass": password,
    }
    return JSONResponse(
        {"server": server},
        status_code=202,
        headers={"Location": server_views.server_url(request, uuids[0])},
    )


def _boot_image(new: NewServer) -> str:
    """The image the server boots from: ``imageRef``, or the one block device mapping
    this cloud supports (the image as the local root disk, as clients send it)."""
    image_id = ref_id(new.imageRef) if new.imageRef else None
    for mapping in new.block_device_mapping_v2 or []:
        local_image = (
            mapping.get("source_type") == "image"
            and mapping.get("destination_type", "local") == "local"
            and str(mapping.get("boot_index")) == "0"
            and isinstance(mapping.get("uuid"), str)
        )
        if not local_image:
            raise BadRequest(
                "Only the image as the local root disk can be mapped: volumes, snapshots, "
                "blank, swap and ephemeral disks need services this cloud does not run."
            )
        if image_id is not None and mapping["uuid"] != image_id:
            raise BadRequest("The block device mapping names another image than imageRef.")
        image_id = mapping["uuid"]
    if not image_id:
        raise BadRequest("Invalid input: 'server.imageRef' is required.")
    return image_id


def _networks(new: NewServer) -> str | list[dict[str, Any]] | None:
    if isinstance(new.networks, list):
        return [item.model_dump(exclude_none=True) for item in new.networks]
    return new.networks


def usable_flavor(session: Session, ctx: RequestContext, flavor_id: str) -> Any:
    try:
        flavor = find_flavor(session, ctx, flavor_id)
    except NotFound as exc:
        raise BadRequest(f"Flavor {flavor_id} could not be found.") from exc
    if flavor.disabled:
        raise BadRequest(f"Flavor {flavor_id} is disabled.")
    return flavor


def check_metadata_quota(session: Session, api: Backend, project: str, count: int) -> None:
    limit = quotas.limits(session, api.conf, project)["metadata_items"]
    try:
        quotas.check(limit, 0, count, "metadata_items")
    except quotas.Exceeded as exc:
        raise Forbidden(str(exc)) from exc


def _recheck_quota(api: Backend, project: str, uuids: list[str], flavor: dict[str, Any]) -> None:
    """Concurrent creates may each have seen room for themselves: whoever finds the project
    over its quota once its servers are recorded takes them back."""
    with api.db.session() as session:
        try:
            quotas.check_servers(session, api.conf, project, 0, 0, 0)
        except quotas.Exceeded as exc:
            for server_uuid in uuids:
                instance = session.get(Instance, server_uuid)
                if instance is not None:
                    mark_deleted(session, instance)
            raise Forbidden(str(exc)) from exc


# -- reading ----------------------------------------------------------------------------


@router.get("", summary="List servers")
def index(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    return list_servers(request, ctx, api, detail=False)


@router.get("/detail", summary="List servers with details")
def detail(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    return list_servers(request, ctx, api, detail=True)


@router.get("/{server_id}", summary="Show a server")
def show_server(
    server_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    with transaction(request) as session:
        instance = find_server(session, ctx, server_id)
        authorize(api, ctx, instance, "servers:read")
        extras = server_views.Extras.load(request, session, [instance], with_groups=True)
        return {"server": server_views.show(request, instance, ctx, extras, with_groups=True)}


# -- changing ---------------------------------------------------------------------------


@router.put("/{server_id}", summary="Update a server's name, description or addresses")
def update_server(
    server_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    body: UpdateBody = Depends(json_body(UpdateBody)),
) -> dict[str, Any]:
    change = body.server
    if "description" in change.model_fields_set and not at_least(request, "2.19"):
        raise BadRequest("Invalid input: 'server.description' is not an allowed field")
    with transaction(request) as session:
        instance = find_server(session, ctx, server_id)
        authorize(api, ctx, instance, "servers:write")
        fields = change.model_fields_set
        if "name" in fields and change.name is not None:
            instance.display_name = change.name
        if "description" in fields:
            instance.display_description = change.description
        if "accessIPv4" in fields:
            instance.access_ip_v4 = change.accessIPv4
        if "accessIPv6" in fields:
            instance.access_ip_v6 = change.accessIPv6
        if change.disk_config is not None:
            instance.request = {**instance.request, "disk_config": change.disk_config}
        session.flush()
        extras = server_views.Extras.load(request, session, [instance], with_groups=True)
        return {
            "server": server_views.show(
                request, instance, ctx, extras, basic=True, with_groups=True
            )
        }


@router.delete("/{server_id}", status_code=204, summary="Delete a server")
def delete_server(
    server_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> Response:
    delete(request, ctx, server_id, "delete")
    return Response(status_code=204)


def delete(request: Request, ctx: RequestContext, server_id: str, action: str) -> None:
    """Delete a server: at once if no host holds it (or its host is down), else by its
    host's agent, which removes its domain and ports first."""
    api = backend(request)
    with transaction(request) as session:
        instance = find_server(session, ctx, server_id)
        authorize(api, ctx, instance, "servers:write")
        check_unlocked(api, ctx, instance)
        if instance.task_state == states.DELETING and _host_up(session, api, instance):
            return  # already being deleted
        records.start_action(
            session, instance.uuid, action, request_id(request), ctx.user_id, ctx.project_id
        )
        local = not (instance.host and _host_up(session, api, instance))
        if local:
            server = records.wire(instance)
            mark_deleted(session, instance)
        else:
            instance.task_state = states.DELETING
            server = records.wire(instance)
    if local:
        # The domain on a host that is down goes when its agent is back; the ports now.
        Networking(api.network).deallocate(server, server["network_info"] or None)
        return
    cast_agent(request, server, "terminate_instance")


def _host_up(session: Session, api: Backend, instance: Instance) -> bool:
    service = session.scalar(
        sa.select(Service).where(Service.host == instance.host, Service.binary == AGENT[0])
    )
    return service is not None and service_is_up(service, api.conf.compute.service_down_time)
