"""Writing what happens to a server: its faults, its actions and their events, and the
plain dict of it that travels over the bus to the agent that runs it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.compute.models import Instance, InstanceAction, InstanceActionEvent, InstanceFault
from stratus.runtime.db import utcnow

FAULT_MESSAGE_LENGTH = 255


def instance_name(uuid: str) -> str:
    """The hypervisor's name for a server's domain."""
    return f"instance-{uuid}"


def wire(instance: Instance) -> dict[str, Any]:
    """What an agent needs to know of a server to run it."""
    return {
        "uuid": instance.uuid,
        "name": instance_name(instance.uuid),
        "display_name": instance.display_name,
        "hostname": instance.hostname,
        "project_id": instance.project_id,
        "user_id": instance.user_id,
        "host": instance.host,
        "node": instance.node,
        "availability_zone": instance.availability_zone,
        "flavor": instance.flavor,
        "new_flavor": instance.new_flavor,
        "image_ref": instance.image_ref,
        "image_properties": instance.image_properties,
        "kernel_id": instance.kernel_id,
        "ramdisk_id": instance.ramdisk_id,
        "key_data": instance.key_data,
        "user_data": instance.user_data,
        "metadata": instance.metadata_dict,
        "request": instance.request,
        "network_info": instance.network_info,
        "vm_state": instance.vm_state,
        "task_state": instance.task_state,
        "power_state": instance.power_state,
    }


def add_fault(
    session: Session,
    instance_uuid: str,
    message: str,
    *,
    code: int = 500,
    details: str = "",
    host: str | None = None,
) -> None:
    session.add(
        InstanceFault(
            instance_uuid=instance_uuid,
            code=code,
            message=message[:FAULT_MESSAGE_LENGTH],
            details=details,
            host=host,
        )
    )


def start_action(
    session: Session,
    instance_uuid: str,
    action: str,
    request_id: str,
    user_id: str | None,
    project_id: str | None,
) -> None:
    session.add(
        InstanceAction(
            instance_uuid=instance_uuid,
            action=action,
            request_id=request_id,
            user_id=user_id,
            project_id=project_id,
        )
    )


def record_event(
    session: Session,
    instance_uuid: str,
    request_id: str | None,
    event: str,
    *,
    start_time: datetime | None = None,
    error: str | None = None,
    host: str | None = None,
) -> None:
    """Record a finished event of the action the request started (if it recorded one);
    a failed event marks its action as failed too."""
    if not request_id:
        return
    action = session.scalar(
        sa.select(InstanceAction).where(
            InstanceAction.instance_uuid == instance_uuid, InstanceAction.request_id == request_id
        )
    )
    if action is None:
        return
    now = utcnow()
    action.events.append(
        InstanceActionEvent(
            event=event,
            start_time=start_time or now,
            finish_time=now,
            result="Error" if error else "Success",
            traceback=error,
            host=host,
        )
    )
    action.updated_at = now
    if error:
        action.message = "Error"
