"""``POST /servers/{id}/action``: the lifecycle actions, each checked against the server's
state (409 when it cannot start from there, as Nova answers) and run by its host's agent
(or, for resizes, by the conductor)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from stratus.compute import quotas, records, states
from stratus.compute.api import server_views
from stratus.compute.api.common import (
    at_least,
    backend,
    base_url,
    request_id,
    transaction,
)
from stratus.compute.api.server_access import (
    authorize,
    begin,
    call_agent,
    cast_agent,
    check_transition,
    find_server,
)
from stratus.compute.api.servers import (
    Name,
    check_image,
    check_metadata_quota,
    delete,
    ref_id,
    usable_flavor,
    user_data_of,
)
from stratus.compute.clients.images import ImageError, properties
from stratus.compute.conductor.manager import AGENT_TOPIC, migration_wire
from stratus.compute.conductor.manager import TOPIC as CONDUCTOR_TOPIC
from stratus.compute.flavors import snapshot
from stratus.compute.models import Instance, InstanceMetadata, KeyPair, Migration
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Conflict, Forbidden
from stratus.runtime.api.routing import Router
from stratus.runtime.api.validation import describe_validation_errors, read_json

router = Router()

CONSOLE_TIMEOUT = 30.0


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Reboot(Strict):
    type: Literal["SOFT", "HARD", "soft", "hard"]


class Lock(Strict):
    locked_reason: Annotated[str, StringConstraints(max_length=255)] | None = None


class Resize(Strict):
    flavorRef: str | int  # noqa: N815 - the wire name
    disk_config: Literal["AUTO", "MANUAL"] | None = Field(None, alias="OS-DCF:diskConfig")


class Rebuild(Strict):
    imageRef: str  # noqa: N815 - the wire names
    name: Name | None = None
    adminPass: str | None = None  # noqa: N815
    metadata: dict[Annotated[str, StringConstraints(min_length=1, max_length=255)], str] | None = (
        None
    )
    accessIPv4: str | None = None  # noqa: N815
    accessIPv6: str | None = None  # noqa: N815
    preserve_ephemeral: bool = False
    description: Annotated[str, StringConstraints(max_length=255)] | None = None
    key_name: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    user_data: str | None = None
    trusted_image_certificates: list[str] | None = None
    personality: list[dict[str, Any]] | None = None
    disk_config: Literal["AUTO", "MANUAL"] | None = Field(None, alias="OS-DCF:diskConfig")


class CreateImage(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    metadata: dict[str, str] = Field(default_factory=dict)


class ConsoleOutput(Strict):
    length: int | str | None = None


Handler = Callable[[Request, RequestContext, str, Any], Response]
HANDLERS: dict[str, tuple[type[BaseModel] | None, Handler]] = {}


def action(name: str, model: type[BaseModel] | None = None) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[name] = (model, handler)
        return handler

    return register


@router.post("/v2.1/servers/{server_id}/action", summary="Run an action on a server")
async def server_action(
    server_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
) -> Response:
    document = await read_json(request)
    if not isinstance(document, dict) or len(document) != 1:
        raise BadRequest("The action body must hold exactly one action.")
    ((name, argument),) = document.items()
    if name not in HANDLERS:
        raise BadRequest(f"There is no such action: {name}")
    model, handler = HANDLERS[name]
    if model is None:
        parsed: Any = argument
    else:
        try:
            parsed = model.model_validate(argument if argument is not None else {})
        except ValidationError as exc:
            raise BadRequest(describe_validation_errors(exc.errors())) from exc
    # Handlers block (database, other services' APIs, the bus): never on the event loop.
    return await run_in_threadpool(handler, request, ctx, server_id, parsed)


def _simple(
    request: Request,
    ctx: RequestContext,
    server_id: str,
    name: str,
    method: str,
    *,
    transition: str | None = None,
    **kwargs: Any,
) -> Response:
    """Check, set the task, record the action, and hand the work to the host's agent."""
    with transaction(request) as session:
        instance = _server(request, session, ctx, server_id)
        begin(request, session, ctx, instance, name, transition=transition)
        server = records.wire(instance)
    cast_agent(request, server, method, **kwargs)
    return Response(status_code=202)


def _server(request: Request, session: Session, ctx: RequestContext, server_id: str) -> Instance:
    instance = find_server(session, ctx, server_id)
    authorize(backend(request), ctx, instance, "servers:write")
    return instance


@action("os-start")
def start(request: Request, ctx: RequestContext, server_id: str, _: Any) -> Response:
    return _simple(request, ctx, server_id, "start", "start_instance")


@action("os-stop")
def stop(request: Request, ctx: RequestContext, server_id: str, _: Any) -> Response:
    return _simple(request, ctx, server_id, "stop", "stop_instance")


@action("reboot", Reboot)
def reboot(request: Request, ctx: RequestContext, server_id: str, body: Reboot) -> Response:
    kind = body.type.upper()
    transition = "reboot_hard" if kind == "HARD" else "reboot"
    return _simple(
        request,
        ctx,
        server_id,
        "reboot",
        "reboot_instance",
        transition=transition,
        reboot_type=kind,
    )


@action("pause")
def pause(request: Request, ctx: RequestContext, server_id: str, _: Any) -> Response:
    return _simple(request, ctx, server_id, "pause", "pause_instance")


@action("unpause")
def unpause(request: Request, ctx: RequestContext, server_id: str, _: Any) -> Response:
    return _simple(request, ctx, server_id, "unpause", "unpause_instance")


@action("suspend")
def suspend(request: Request, ctx: RequestContext, server_id: str, _: Any) -> Response:
    return _simple(request, ctx, server_id, "suspend", "suspend_instance")


@action("resume")
def resume(request: Request, ctx: RequestContext, server_id: str, _: Any) -> Response:
    return _simple(request, ctx, server_id, "resume", "resume_instance")


@action("lock")
def lock(request: Request, ctx: RequestContext, server_id: str, body: Any) -> Response:
    reason = None
    if isinstance(body, dict) and body:
        if not at_least(request, "2.73"):
            raise BadRequest("Invalid input: lock takes no arguments before 2.73.")
        try:
            reason = Lock.model_validate(body).locked_reason
        except ValidationError as exc:
            raise BadRequest(describe_validation_errors(exc.errors())) from exc
    with transaction(request) as session:
        instance = _server(request, session, ctx, server_id)
        records.start_action(
            session, instance.uuid, "lock", request_id(request), ctx.user_id, ctx.project_id
        )
        if not instance.locked:
            instance.locked = True
            instance.locked_by = (
                "admin" if ctx.is_admin and instance.project_id != ctx.project_id else "owner"
            )
            instance.locked_reason = reason
    return Response(status_code=202)


@action("unlock")
def unlock(request: Request, ctx: RequestContext, server_id: str, _: Any) -> Response:
    api = backend(request)
    with transaction(request) as session:
        instance = _server(request, session, ctx, server_id)
        if instance.locked_by == "admin" and not api.policy.check(ctx, "servers:locked_override"):
            raise Forbidden(f"Instance {instance.uuid} was locked by an administrator.")
        records.start_action(
            session, instance.uuid, "unlock", request_id(request), ctx.user_id, ctx.project_id
        )
        instance.locked = False
        instance.locked_by = instance.locked_reason = None
    return Response(status_code=202)


@action("resize", Resize)
def resize(request: Request, ctx: RequestContext, server_id: str, body: Resize) -> Response:
    api = backend(request)
    with transaction(request) as session:
        instance = _server(request, session, ctx, server_id)
        flavor = snapshot(usable_flavor(session, ctx, ref_id(body.flavorRef)))
        current = instance.flavor
        if flavor["id"] == current["id"]:
            raise BadRequest("When resizing, instances must change flavor!")
        if flavor["root_gb"] < current["root_gb"]:
            raise BadRequest("Resize to smaller disk flavor is not allowed.")
        growth_cores = max(0, flavor["vcpus"] - current["vcpus"])
        growth_ram = max(0, flavor["memory_mb"] - current["memory_mb"])
        held, limit = (
            quotas.usage(session, instance.project_id),
            quotas.limits(session, api.conf, instance.project_id),
        )
        try:
            quotas.check(limit["cores"], held["cores"], growth_cores, "cores")
            quotas.check(limit["ram"], held["ram"], growth_ram, "ram")
        except quotas.Exceeded as exc:
            raise Forbidden(str(exc)) from exc
        begin(request, session, ctx, instance, "resize")
        if body.disk_config:
            instance.request = {**instance.request, "disk_config": body.disk_config}
    api.bus.cast(
        CONDUCTOR_TOPIC,
        "resize_instance",
        instance_uuid=server_id,
        flavor=flavor,
        request_id=request_id(request),
    )
    return Response(status_code=202)


def _migration(session: Session, instance: Instance) -> dict[str, Any]:
    migration = session.scalar(
        sa.select(Migration)
        .where(Migration.instance_uuid == instance.uuid, Migration.status == "finished")
        .order_by(Migration.id.desc())
    )
    if migration is None:
        raise BadRequest(f"Instance {instance.uuid} has no resize waiting for confirmation.")
    return migration_wire(migration)


@action("confirmResize")
def confirm_resize(request: Request, ctx: RequestContext, server_id: str, _: Any) -> Response:
    with transaction(request) as session:
        instance = _server(request, session, ctx, server_id)
        begin(request, session, ctx, instance, "confirmResize")
        migration = _migration(session, instance)
        server = records.wire(instance)
    backend(request).bus.cast(
        AGENT_TOPIC,
        "confirm_resize",
        host=migration["source_compute"],
        instance=server,
        migration=migration,
        request_id=request_id(request),
    )
    return Response(status_code=204)


@action("revertResize")
def revert_resize(request: Request, ctx: RequestContext, server_id: str, _: Any) -> Response:
    with transaction(request) as session:
        instance = _server(request, session, ctx, server_id)
        begin(request, session, ctx, instance, "revertResize")
        migration = _migration(session, instance)
        server = records.wire(instance)
    cast_agent(request, server, "revert_resize", migration=migration)
    return Response(status_code=202)


@action("rebuild", Rebuild)
def rebuild(request: Request, ctx: RequestContext, server_id: str, body: Rebuild) -> Response:
    api = backend(request)
    given = body.model_fields_set
    for field_name, since in (
        ("description", "2.19"),
        ("key_name", "2.54"),
        ("user_data", "2.57"),
        ("trusted_image_certificates", "2.63"),
    ):
        if field_name in given and not at_least(request, since):
            raise BadRequest(f"Invalid input: 'rebuild.{field_name}' is not an allowed field")
    if "personality" in given and at_least(request, "2.57"):
        raise BadRequest("Invalid input: 'rebuild.personality' is not an allowed field")
    if body.trusted_image_certificates or body.personality:
        raise BadRequest(
            "Trusted image certificates and file injection are not supported by this cloud."
        )
    image_id = ref_id(body.imageRef)
    user_data = user_data_of(body.user_data)
    with transaction(request) as session:
        instance = _server(request, session, ctx, server_id)
        flavor = instance.flavor
    image = api.images.show(image_id, token=ctx.token)
    check_image(image, image_id, flavor)
    assert image is not None
    with transaction(request) as session:
        instance = _server(request, session, ctx, server_id)
        begin(request, session, ctx, instance, "rebuild")
        if body.metadata is not None:
            check_metadata_quota(session, api, instance.project_id, len(body.metadata))
            instance.metadata_items = [
                InstanceMetadata(key=k, value=v) for k, v in body.metadata.items()
            ]
        if "key_name" in given:
            _set_key(session, ctx, instance, body.key_name)
        props = properties(image)
        instance.image_ref = image_id
        instance.image_properties = props
        instance.kernel_id = str(props.get("kernel_id") or "")
        instance.ramdisk_id = str(props.get("ramdisk_id") or "")
        if body.name is not None:
            instance.display_name = body.name
        if "description" in given:
            instance.display_description = body.description
        if "user_data" in given:
            instance.user_data = user_data
        if "accessIPv4" in given:
            instance.access_ip_v4 = body.accessIPv4
        if "accessIPv6" in given:
            instance.access_ip_v6 = body.accessIPv6
        session.flush()
        server = records.wire(instance)
        extras = server_views.Extras.load(request, session, [instance], with_groups=True)
        view = server_views.show(request, instance, ctx, extras, basic=True, with_groups=True)
    cast_agent(request, server, "rebuild_instance")
    view["adminPass"] = body.adminPass or ""
    return JSONResponse({"server": view}, status_code=202)


def _set_key(session: Session, ctx: RequestContext, instance: Instance, name: str | None) -> None:
    if name is None:
        instance.key_name = instance.key_data = None
        return
    key = session.scalar(
        sa.select(KeyPair).where(KeyPair.user_id == ctx.user_id, KeyPair.name == name)
    )
    if key is None:
        raise BadRequest("Invalid key_name provided.")
    instance.key_name, instance.key_data = key.name, key.public_key


@action("createImage", CreateImage)
def create_image(
    request: Request, ctx: RequestContext, server_id: str, body: CreateImage
) -> Response:
    api = backend(request)
    with transaction(request) as session:
        instance = _server(request, session, ctx, server_id)
        check_transition(request, ctx, instance, "createImage")
        props = {
            k: v
            for k, v in instance.image_properties.items()
            if k not in ("min_ram", "min_disk", "disk_format", "container_format")
        }
        snapshot_body = {
            **{k: str(v) for k, v in props.items()},
            **body.metadata,
            "name": body.name,
            "disk_format": "qcow2",  # what the driver's snapshot is, whatever the image
            "container_format": "bare",
            "min_disk": instance.flavor["root_gb"],
            "min_ram": instance.image_properties.get("min_ram", 0),
            "image_type": "snapshot",
            "visibility": "private",  # the owner's, as Nova makes snapshots
            "instance_uuid": instance.uuid,
            "base_image_ref": instance.image_ref,
            "owner_user_name": ctx.user_name,
            "user_id": ctx.user_id,
        }
    try:
        image = api.images.create(snapshot_body, token=ctx.token)
    except ImageError as exc:
        raise BadRequest(str(exc)) from exc
    try:
        with transaction(request) as session:
            instance = _server(request, session, ctx, server_id)
            begin(request, session, ctx, instance, "createImage")
            server = records.wire(instance)
    except Conflict:
        api.images.delete(image["id"])  # the server changed meanwhile
        raise
    cast_agent(request, server, "snapshot_instance", image_id=image["id"])
    if at_least(request, "2.45"):
        return JSONResponse({"image_id": image["id"]}, status_code=202)
    return Response(
        status_code=202, headers={"Location": f"{base_url(request)}/images/{image['id']}"}
    )


@action("os-getConsoleOutput", ConsoleOutput)
def console_output(
    request: Request, ctx: RequestContext, server_id: str, body: ConsoleOutput
) -> Response:
    length: int | None = None
    if body.length is not None:
        try:
            length = int(body.length)
        except ValueError as exc:
            raise BadRequest("length must be an integer.") from exc
        if length < -1:
            raise BadRequest("length must be -1 or greater.")
        if length == -1:
            length = None
    with transaction(request) as session:
        instance = _server(request, session, ctx, server_id)
        if not instance.host or instance.vm_state == states.BUILDING:
            raise Conflict(f"Instance {instance.uuid} has not been scheduled to a host yet.")
        server = records.wire(instance)
    output = call_agent(
        request,
        server,
        "get_console_output",
        failed=f"The console of instance {server_id} is not available",
        timeout=CONSOLE_TIMEOUT,
        length=length,
    )
    return JSONResponse({"output": output})


@action("forceDelete")
def force_delete(request: Request, ctx: RequestContext, server_id: str, _: Any) -> Response:
    api = backend(request)
    with transaction(request) as session:
        instance = _server(request, session, ctx, server_id)
        authorize(api, ctx, instance, "servers:force_delete")
    delete(request, ctx, server_id, "forceDelete")
    return Response(status_code=202)
