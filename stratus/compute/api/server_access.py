"""Finding the server a request names, and the checks every change to a server makes:
the caller may act on it, it is not locked, its state allows the action."""

from __future__ import annotations

import uuid as uuid_module
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from sqlalchemy.orm import Session, joinedload

from stratus.compute import records, states
from stratus.compute.api.common import Backend, backend, request_id
from stratus.compute.conductor.manager import AGENT_TOPIC
from stratus.compute.models import Instance
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import Conflict, NotFound, ServiceUnavailable
from stratus.runtime.bus import BusError, RemoteError


def find_server(
    session: Session, ctx: RequestContext, server_id: str, *, deleted: bool = False
) -> Instance:
    """The server, or a 404 if it does not exist (or was deleted, unless ``deleted``)
    or belongs to another project and the caller is not an admin."""
    try:
        uuid_module.UUID(server_id)
    except ValueError:
        instance = None
    else:  # with its metadata and tags in the same statement (not one more each)
        instance = (
            session.scalars(
                sa.select(Instance)
                .where(Instance.uuid == server_id)
                .options(joinedload(Instance.metadata_items), joinedload(Instance.tags))
            )
            .unique()
            .one_or_none()
        )
    if (
        instance is None
        or (instance.deleted and not deleted)
        or (not ctx.is_admin and instance.project_id != ctx.project_id)
    ):
        raise NotFound(f"Instance {server_id} could not be found.")
    return instance


def authorize(api: Backend, ctx: RequestContext, instance: Instance, rule: str) -> None:
    api.policy.enforce(ctx, rule, {"project_id": instance.project_id})


def check_unlocked(api: Backend, ctx: RequestContext, instance: Instance) -> None:
    """Locked servers refuse changes, except from administrators."""
    if instance.locked and not api.policy.check(ctx, "servers:locked_override"):
        raise Conflict(f"Instance {instance.uuid} is locked")


def begin(
    request: Request,
    session: Session,
    ctx: RequestContext,
    instance: Instance,
    action: str,
    *,
    transition: str | None = None,
    record: str | None = None,
) -> None:
    """Check the server's state allows ``transition`` (default: the action) and set the
    task it starts; record the instance action (``record``, default: the action)."""
    api = backend(request)
    check_unlocked(api, ctx, instance)
    rule = states.TRANSITIONS[transition or action]
    if not rule.allows(instance.vm_state, instance.task_state):
        raise state_conflict(instance, action)
    instance.task_state = rule.task
    records.start_action(
        session, instance.uuid, record or action, request_id(request), ctx.user_id, ctx.project_id
    )


def check_transition(
    request: Request,
    ctx: RequestContext,
    instance: Instance,
    action: str,
    transition: str | None = None,
) -> states.Transition:
    """The transition, if the server is unlocked and its state allows it; else a 409."""
    check_unlocked(backend(request), ctx, instance)
    rule = states.TRANSITIONS[transition or action]
    if not rule.allows(instance.vm_state, instance.task_state):
        raise state_conflict(instance, action)
    return rule


def state_conflict(instance: Instance, action: str) -> Conflict:
    """The 409 of an action the server's state does not allow, as Nova words it."""
    state = (
        f"task_state {instance.task_state}"
        if instance.task_state
        else f"vm_state {instance.vm_state}"
    )
    return Conflict(f"Cannot '{action}' instance {instance.uuid} while it is in {state}")


def call_agent(
    request: Request,
    server: dict[str, Any],
    method: str,
    *,
    failed: str,
    timeout: float,
    **kwargs: Any,
) -> Any:
    """Ask the agent of the server's host and wait for its answer: what it could not do is
    a 409 (``failed``, then why), a host that does not answer a 503."""
    try:
        return backend(request).bus.call(
            AGENT_TOPIC, method, host=server["host"], timeout=timeout, instance=server, **kwargs
        )
    except RemoteError as exc:
        raise Conflict(f"{failed}: {exc.message}") from exc
    except BusError as exc:
        raise ServiceUnavailable(f"The compute host {server['host']} does not answer.") from exc


def cast_agent(request: Request, server: dict[str, Any], method: str, **kwargs: Any) -> None:
    """Hand work on a server (its :func:`records.wire` dict, taken before the change was
    committed and sent after) to the agent of its host."""
    backend(request).bus.cast(
        AGENT_TOPIC,
        method,
        host=server["host"],
        instance=server,
        request_id=request_id(request),
        **kwargs,
    )
