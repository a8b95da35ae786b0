"""The history of what was asked of each container (Zun's ``container_actions``).

The API records an action, with one event for the agent's part, when it accepts a
request; the agent's next report on the container finishes the open events, as a
Success or as an Error with the reason. A container's history goes with it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.container import states
from stratus.container.models import Action, ActionEvent
from stratus.runtime.api.context import RequestContext
from stratus.runtime.db import utcnow
from stratus.runtime.log import request_id_var


def record(session: Session, ctx: RequestContext, container_uuid: str, action: str) -> None:
    row = Action(
        container_uuid=container_uuid,
        request_id=request_id_var.get(),
        action=action,
        project_id=ctx.project_id or "",
        user_id=ctx.user_id,
    )
    session.add(row)
    session.flush()
    session.add(ActionEvent(action_id=row.id, event=f"container_agent_{action}"))


def finish(session: Session, container_uuid: str, status: str, reason: str | None) -> None:
    """The agent reported: every open event of the container ends with that report."""
    failed = status == states.ERROR or reason is not None
    open_events = (
        sa.select(ActionEvent)
        .join(Action, Action.id == ActionEvent.action_id)
        .where(Action.container_uuid == container_uuid, ActionEvent.finish_time.is_(None))
    )
    for event in session.scalars(open_events):
        event.finish_time = utcnow()
        event.result = "Error" if failed else "Success"
        event.traceback = reason if failed else None
        if failed:
            session.get(Action, event.action_id).message = reason  # type: ignore[union-attr]


def forget(session: Session, container_uuid: str) -> None:
    ids = sa.select(Action.id).where(Action.container_uuid == container_uuid)
    session.execute(sa.delete(ActionEvent).where(ActionEvent.action_id.in_(ids)))
    session.execute(sa.delete(Action).where(Action.container_uuid == container_uuid))


def history(session: Session, container_uuid: str) -> list[Action]:
    query = sa.select(Action).where(Action.container_uuid == container_uuid)
    return list(session.scalars(query.order_by(Action.start_time.desc(), Action.id.desc())))


def events(session: Session, action_id: int) -> list[ActionEvent]:
    query = sa.select(ActionEvent).where(ActionEvent.action_id == action_id)
    return list(session.scalars(query.order_by(ActionEvent.id)))
