"""``/v1/containers``: create/run, list, show, update, delete, actions, logs, top, stats,
execute, attach and resize (their streams go through the websocket proxy), commit and
the actions history."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from stratus.container.api import views
from stratus.container.api.common import base_url, flag, integer, service, version
from stratus.container.models import Container
from stratus.container.schemas import ContainerCreate, ContainerUpdate
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest
from stratus.runtime.api.routing import Router
from stratus.runtime.api.validation import json_body

router = Router(prefix="/v1/containers")
Caller = Depends(authenticated)

# Signals kill accepts, by name or number (Docker takes either).
_SIGNAL_NAMES = frozenset(
    {"SIGKILL", "SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGSTOP"}
)


# What Docker accepts as a repository and as a tag.
_REPOSITORY = re.compile(r"^[a-z0-9]+([._-]+[a-z0-9]+)*(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def _view(request: Request, ctx: RequestContext, row: Container) -> dict[str, Any]:
    show_host = service(request).policy.check(ctx, "container:host")
    return views.container(row, base_url(request), version(request), show_host)


@router.post("", status_code=202)
def create(
    request: Request,
    ctx: RequestContext = Caller,
    body: ContainerCreate = Depends(json_body(ContainerCreate)),
) -> dict[str, Any]:
    row = service(request).create(ctx, body, run=flag(request, "run"))
    return _view(request, ctx, row)


@router.get("")
def list_containers(request: Request, ctx: RequestContext = Caller) -> dict[str, Any]:
    rows, marker = service(request).list(
        ctx, request.query_params, all_projects=flag(request, "all_projects")
    )
    body: dict[str, Any] = {"containers": [_view(request, ctx, row) for row in rows]}
    if marker is not None:
        limit = len(rows)
        body["next"] = f"{base_url(request)}/v1/containers?limit={limit}&marker={marker}"
    return body


@router.get("/{ident}")
def show(ident: str, request: Request, ctx: RequestContext = Caller) -> dict[str, Any]:
    return _view(request, ctx, service(request).get(ctx, ident))


@router.patch("/{ident}")
def update(
    ident: str,
    request: Request,
    ctx: RequestContext = Caller,
    body: ContainerUpdate = Depends(json_body(ContainerUpdate)),
) -> dict[str, Any]:
    return _view(request, ctx, service(request).update(ctx, ident, body))


@router.delete("/{ident}", status_code=204)
def delete(ident: str, request: Request, ctx: RequestContext = Caller) -> Response:
    service(request).delete(ctx, ident, force=flag(request, "force"), stop=flag(request, "stop"))
    return Response(status_code=204)


@router.post("/{ident}/rename")
def rename(ident: str, request: Request, ctx: RequestContext = Caller) -> dict[str, Any]:
    name = request.query_params.get("name")
    if not name:
        raise BadRequest("Query parameter name is required.")
    return _view(request, ctx, service(request).rename(ctx, ident, name))


def _timed(action: str) -> Any:
    def handler(ident: str, request: Request, ctx: RequestContext = Caller) -> Response:
        timeout = integer(request, "timeout", 10)
        service(request).action(ctx, ident, action, timeout=timeout)
        return Response(status_code=202)

    return handler


def _plain(action: str) -> Any:
    def handler(ident: str, request: Request, ctx: RequestContext = Caller) -> Response:
        service(request).action(ctx, ident, action)
        return Response(status_code=202)

    return handler


for _action in ("stop", "reboot"):
    router.add_api_route(f"/{{ident}}/{_action}", _timed(_action), methods=["POST"])
for _action in ("start", "pause", "unpause"):
    router.add_api_route(f"/{{ident}}/{_action}", _plain(_action), methods=["POST"])


@router.post("/{ident}/kill")
def kill(ident: str, request: Request, ctx: RequestContext = Caller) -> Response:
    signal = request.query_params.get("signal")
    if signal in (None, "", "None"):
        signal = "SIGKILL"
    name = signal.upper() if signal.upper().startswith("SIG") else f"SIG{signal.upper()}"
    if not signal.isdigit() and name not in _SIGNAL_NAMES:
        raise BadRequest(f"Signal {signal!r} is not a signal kill can send.")
    service(request).action(ctx, ident, "kill", signal=int(signal) if signal.isdigit() else name)
    return Response(status_code=202)


@router.get("/{ident}/logs")
def logs(ident: str, request: Request, ctx: RequestContext = Caller) -> str:
    tail = request.query_params.get("tail") or "all"
    if tail != "all" and not tail.isdigit():
        raise BadRequest(f"tail must be 'all' or a number of lines, not {tail!r}.")
    stdout, stderr = flag(request, "stdout"), flag(request, "stderr")
    if not stdout and not stderr:
        stdout = stderr = True
    return service(request).ask(
        ctx,
        ident,
        "logs",
        stdout=stdout,
        stderr=stderr,
        timestamps=flag(request, "timestamps"),
        tail=tail,
        since=integer(request, "since"),
    )


@router.get("/{ident}/top")
def top(ident: str, request: Request, ctx: RequestContext = Caller) -> dict[str, Any]:
    ps_args = request.query_params.get("ps_args")
    return service(request).ask(ctx, ident, "top", ps_args=None if ps_args == "None" else ps_args)


@router.get("/{ident}/stats")
def stats(ident: str, request: Request, ctx: RequestContext = Caller) -> dict[str, Any]:
    return service(request).ask(ctx, ident, "stats")


@router.post("/{ident}/execute")
async def execute(ident: str, request: Request, ctx: RequestContext = Caller) -> dict[str, Any]:
    """python-zunclient sends the command in the query; the api-ref puts it in the body."""
    command: Any = request.query_params.get("command")
    if command is None and await request.body():
        body = await request.json()
        command = body.get("command") if isinstance(body, dict) else None
    if not isinstance(command, str | list):
        raise BadRequest("The command to execute is required.")
    containers = service(request)
    if flag(request, "interactive"):
        return await run_in_threadpool(containers.execute_interactive, ctx, ident, command)
    result = await run_in_threadpool(containers.execute, ctx, ident, command)
    return {**result, "exec_id": None, "proxy_url": None}


def _size(request: Request) -> dict[str, int]:
    height, width = integer(request, "h"), integer(request, "w")
    if height is None or width is None or height <= 0 or width <= 0:
        raise BadRequest("Query parameters h and w must be positive integers.")
    return {"height": height, "width": width}


@router.post("/{ident}/execute_resize")
def execute_resize(ident: str, request: Request, ctx: RequestContext = Caller) -> Response:
    exec_id = request.query_params.get("exec_id")
    if not exec_id:
        raise BadRequest("Query parameter exec_id is required.")
    size = _size(request)
    service(request).ask(
        ctx, ident, "exec_resize", rule="container:execute", exec_id=exec_id, **size
    )
    return Response(status_code=200)


@router.get("/{ident}/attach")
def attach(ident: str, request: Request, ctx: RequestContext = Caller) -> str:
    return service(request).attach(ctx, ident)


@router.post("/{ident}/resize")
def resize(ident: str, request: Request, ctx: RequestContext = Caller) -> Response:
    service(request).ask(ctx, ident, "resize", rule="container:attach", **_size(request))
    return Response(status_code=200)


@router.post("/{ident}/commit", status_code=202)
def commit(ident: str, request: Request, ctx: RequestContext = Caller) -> dict[str, Any]:
    repository = request.query_params.get("repository")
    tag = request.query_params.get("tag") or "latest"
    if not repository or not _REPOSITORY.match(repository):
        raise BadRequest(f"repository must be a Docker repository name, not {repository!r}.")
    if not _TAG.match(tag):
        raise BadRequest(f"tag must be a Docker tag, not {tag!r}.")
    return {"uuid": service(request).commit(ctx, ident, repository, tag)}


@router.get("/{ident}/container_actions")
def list_actions(ident: str, request: Request, ctx: RequestContext = Caller) -> dict[str, Any]:
    rows = service(request).actions(ctx, ident)
    return {"containerActions": [views.action(row) for row in rows]}


@router.get("/{ident}/container_actions/{request_id}")
def show_action(
    ident: str, request_id: str, request: Request, ctx: RequestContext = Caller
) -> dict[str, Any]:
    row, events = service(request).action_events(ctx, ident, request_id)
    return views.action(row, events)
