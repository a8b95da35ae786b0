"""What the container API does: validate, schedule and record, then hand work to agents.

Every state change an agent makes comes back through :class:`stratus.container.rpc.
Conductor`; this module only records what the API decides (Creating, Deleting, task
states) and casts the work.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.container import actions, capsules, consoles, quotas, scheduler, states
from stratus.container.images import ImageClient
from stratus.container.models import Action, ActionEvent, Capsule, Container, Host
from stratus.container.network_actions import NetworkActions
from stratus.container.networking import Networking, Plan, addresses
from stratus.container.rpc import AgentClient, spec
from stratus.container.schemas import ContainerCreate, ContainerUpdate
from stratus.runtime.api import pagination
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Conflict, NotFound
from stratus.runtime.api.policy import Policy
from stratus.runtime.bus import BusError, RemoteError
from stratus.runtime.db import Database, new_id

SORT_KEYS = ("created_at", "name", "uuid", "status", "memory", "cpu", "updated_at")


@dataclass(frozen=True)
class Settings:
    default_cpu: float
    default_memory: int
    cpu_allocation_ratio: float
    service_down_time: int
    quota_defaults: dict[str, float]
    limit_max: int
    console_token_ttl: int = 600


class ContainerService(NetworkActions):
    def __init__(
        self,
        db: Database,
        agents: AgentClient,
        images: ImageClient,
        policy: Policy,
        settings: Settings,
        networking: Networking,
    ) -> None:
        self.db = db
        self.agents = agents
        self.images = images
        self.policy = policy
        self.settings = settings
        self.networking = networking

    # --- create ---------------------------------------------------------------------

    def create(self, ctx: RequestContext, body: ContainerCreate, run: bool) -> Container:
        self.policy.enforce(ctx, "container:create", {"project_id": ctx.project_id})
        if body.host:
            self.policy.enforce(ctx, "container:host")
        container = self._new_row(ctx, body, run)
        plan = self.networking.plan(ctx, body.nets, body.security_groups)
        self._place(ctx, [container], plan, container.uuid, body.availability_zone, body.host)
        with self.db.session() as session:
            actions.record(session, ctx, container.uuid, "create")
        self._cast(container, "create", container=spec(container), start=run)
        return container

    def _new_row(self, ctx: RequestContext, body: ContainerCreate, run: bool) -> Container:
        """The record of a container the body asks for (not yet claimed on a host)."""
        driver = body.image_driver or "glance"
        image_id = self.images.find(body.image, ctx.token)["id"] if driver == "glance" else None
        return Container(
            uuid=new_id(),
            name=body.name,
            project_id=ctx.project_id,
            user_id=ctx.user_id,
            image=body.image,
            image_driver=driver,
            image_id=image_id,
            command=_argv(body.command),
            entrypoint=_argv(body.entrypoint),
            cpu=body.cpu or self.settings.default_cpu,
            memory=body.memory or self.settings.default_memory,
            environment=body.environment,
            labels=body.labels,
            workdir=body.workdir,
            hostname=body.hostname,
            restart_policy=body.restart_policy.model_dump() if body.restart_policy else None,
            interactive=body.interactive,
            tty=body.tty,
            auto_remove=body.auto_remove,
            mounts=[mount.model_dump(exclude_none=True) for mount in body.mounts],
            nets=[],
            security_groups=[],
            availability_zone=body.availability_zone,
            status=states.CREATING,
            start_requested=run,
            addresses={},
        )

    def _place(
        self,
        ctx: RequestContext,
        rows: list[Container],
        plan: Plan,
        device_id: str,
        zone: str | None,
        host: str | None,
    ) -> None:
        """Make the planned ports, then claim a host for the rows, which record the ports
        (before any agent can see the rows); the ports go again if no host takes them."""
        nets = self.networking.allocate(ctx, device_id, plan)
        for row in rows:
            row.nets, row.addresses = list(nets), addresses(nets)
            row.security_groups = list(plan.group_ids)
        try:
            self._claim(rows, zone, host)
        except Exception:
            self.networking.free(nets)
            raise

    def _claim(self, containers: list[Container], zone: str | None, host: str | None) -> None:
        """Record the containers on one host with room for them all, within the quota."""
        hosts = scheduler.candidates(self.db, zone, self.settings.service_down_time, host)
        asked = {
            "containers": len(containers),
            "cpu": sum(c.cpu for c in containers),
            "memory": sum(c.memory for c in containers),
        }
        project_id = containers[0].project_id

        def check_quota(session: Session) -> None:
            quotas.check(session, project_id, self.settings.quota_defaults, asked)

        if not hosts:  # still say if the project is over its quota, which is the likelier fix
            with self.db.session() as session:
                check_quota(session)
        ratio = self.settings.cpu_allocation_ratio
        scheduler.claim(self.db, hosts, ratio, containers, check_quota)

    # --- read -----------------------------------------------------------------------

    def get(self, ctx: RequestContext, ident: str) -> Container:
        """A container of the caller's project (any, for an admin) by uuid or name."""
        self.policy.enforce(ctx, "container:get", {"project_id": ctx.project_id})
        with self.db.session() as session:
            return self._find(session, ctx, ident)

    def list(
        self, ctx: RequestContext, query: Mapping[str, Any], all_projects: bool
    ) -> tuple[list[Container], str | None]:
        self.policy.enforce(ctx, "container:get_all", {"project_id": ctx.project_id})
        stmt = sa.select(Container)
        if all_projects:
            self.policy.enforce(ctx, "container:get_all_all_projects")
        else:
            stmt = stmt.where(Container.project_id == ctx.project_id)
        for field in ("name", "image", "status", "host", "project_id", "user_id"):
            if query.get(field):
                stmt = stmt.where(getattr(Container, field) == query[field])
        page = pagination.page_params(
            query,
            sort_keys=SORT_KEYS,
            default_sort=(("created_at", "asc"),),
            max_limit=self.settings.limit_max,
        )
        with self.db.session() as session:
            return pagination.paginate(session, stmt, Container, page, id_column="uuid")

    # --- change ---------------------------------------------------------------------

    def delete(self, ctx: RequestContext, ident: str, force: bool, stop: bool) -> None:
        with self.db.session() as session:
            row = self._act_on(session, ctx, ident)
            if row.capsule_id:
                raise Conflict(
                    f"Container {row.uuid} belongs to capsule {row.capsule_id}; delete that."
                )
            if not force:
                allowed = "delete_stop" if stop else "delete"
                _require(row, allowed)
            row.status = states.DELETING
            row.task_state = "deleting"
            actions.record(session, ctx, row.uuid, "delete")
            container = row
        if container.host is None:
            with self.db.session() as session:
                actions.forget(session, container.uuid)
                session.execute(sa.delete(Container).where(Container.uuid == container.uuid))
            self.networking.free(container.nets)
            return
        self._cast(container, "delete", uuid=container.uuid)  # the conductor frees its ports

    def action(self, ctx: RequestContext, ident: str, action: str, **kwargs: Any) -> None:
        """start, stop, reboot, pause, unpause or kill: checked here, done by the agent."""
        with self.db.session() as session:
            row = self._act_on(session, ctx, ident)
            _require(row, action)
            row.task_state = _TASK_STATES[action]
            actions.record(session, ctx, row.uuid, action)
            container = row
        self._cast(container, action, uuid=container.uuid, **kwargs)

    def update(self, ctx: RequestContext, ident: str, body: ContainerUpdate) -> Container:
        """A new name, or new limits: these are claimed on the host like a create's."""
        with self.db.session() as session:
            row = self._act_on(session, ctx, ident)
            if body.cpu is None and body.memory is None:
                if body.name is not None:
                    row.name = body.name
                return row
            _require(row, "update")
            uuid, project_id, hostname = row.uuid, row.project_id, row.host
        assert hostname is not None
        scheduler.ensure_project(self.db, project_id)
        with self.db.session() as session:
            scheduler.lock(session, project_id, hostname)
            row = session.get(Container, uuid)
            host = session.get(Host, hostname)
            if row is None or host is None:
                raise NotFound(f"Container {ident} could not be found.")
            _require(row, "update")
            cpu, memory = body.cpu or row.cpu, body.memory or row.memory
            more_cpu, more_memory = cpu - row.cpu, memory - row.memory
            ratio = self.settings.cpu_allocation_ratio
            if not scheduler.fits(session, host, more_cpu, more_memory, ratio):
                raise Conflict(f"Host {hostname} has no room for {cpu:g} CPU and {memory} MB.")
            asked = {"containers": 0, "cpu": more_cpu, "memory": more_memory}
            quotas.check(session, project_id, self.settings.quota_defaults, asked)
            if body.name is not None:
                row.name = body.name
            row.cpu, row.memory = cpu, memory
            actions.record(session, ctx, uuid, "update")
            container = row
        self._cast(container, "update", uuid=uuid, cpu=cpu, memory=memory)
        return container

    def rename(self, ctx: RequestContext, ident: str, name: str) -> Container:
        return self.update(ctx, ident, ContainerUpdate(name=name))

    def ask(
        self,
        ctx: RequestContext,
        ident: str,
        what: str,
        rule: str = "container:read_action",
        **kwargs: Any,
    ) -> Any:
        """logs, top, stats or execute: the agent's answer, at once."""
        with self.db.session() as session:
            row = self._find(session, ctx, ident)
        self.policy.enforce(ctx, rule, {"project_id": row.project_id})
        _require(row, what)
        try:
            return self.agents.call(row.host, what, uuid=row.uuid, **kwargs)
        except RemoteError as exc:
            raise Conflict(f"Container {row.uuid} could not answer {what}: {exc.message}") from exc
        except BusError as exc:
            raise Conflict(f"The agent of host {row.host} did not answer: {exc}") from exc

    def execute(self, ctx: RequestContext, ident: str, command: str | list[str]) -> dict[str, Any]:
        """Run a command in a running container: its output and exit code."""
        argv = _argv(command)
        if not argv:
            raise BadRequest("The command to execute is required.")
        return self.ask(ctx, ident, "execute", rule="container:execute", command=argv)

    def execute_interactive(
        self, ctx: RequestContext, ident: str, command: str | list[str]
    ) -> dict[str, Any]:
        """An exec with a tty that the client opens through the websocket proxy."""
        argv = _argv(command)
        if not argv:
            raise BadRequest("The command to execute is required.")
        exec_id = self.ask(ctx, ident, "exec_create", rule="container:execute", command=argv)
        url = self._console_url(ctx, ident, exec_id)
        return {"output": None, "exit_code": None, "exec_id": exec_id, "proxy_url": url}

    def attach(self, ctx: RequestContext, ident: str) -> str:
        """The websocket URL of the container's tty (it must run interactive, with one)."""
        with self.db.session() as session:
            row = self._find(session, ctx, ident)
        self.policy.enforce(ctx, "container:attach", {"project_id": row.project_id})
        _require(row, "attach")
        if not (row.interactive and row.tty):
            raise BadRequest(
                f"Container {row.uuid} was not run interactive with a tty: nothing to attach to."
            )
        return self._console_url(ctx, ident, None)

    def _console_url(self, ctx: RequestContext, ident: str, exec_id: str | None) -> str:
        with self.db.session() as session:
            row = self._find(session, ctx, ident)
            host = session.get(Host, row.host) if row.host else None
            if host is None or not host.console_url:
                raise Conflict(f"Host {row.host} reports no websocket proxy.")
            ttl = self.settings.console_token_ttl
            token = consoles.issue(session, row.uuid, host.hostname, exec_id, ttl)
            base = host.console_url
        return f"{base}{'&' if '?' in base else '?'}token={token}"

    def commit(self, ctx: RequestContext, ident: str, repository: str, tag: str) -> str:
        """Snapshot the container into a new image of the caller's project; the image's
        id (it turns active when the agent has uploaded the data)."""
        with self.db.session() as session:
            row = self._find(session, ctx, ident)
            self.policy.enforce(ctx, "container:commit", {"project_id": row.project_id})
            if row.task_state is not None:
                raise Conflict(f"Container {row.uuid} is busy ({row.task_state}).")
            _require(row, "commit")
            image_id = self.images.create(repository, tag, ctx.token)
            row.task_state = "committing"
            actions.record(session, ctx, row.uuid, "commit")
            container = row
        self._cast(
            container,
            "commit",
            uuid=container.uuid,
            repository=repository,
            tag=tag,
            image_id=image_id,
            token=ctx.token,
        )
        return image_id

    def actions(self, ctx: RequestContext, ident: str) -> list[Action]:
        """What was asked of the container, the latest first."""
        with self.db.session() as session:
            row = self._find(session, ctx, ident)
            self.policy.enforce(ctx, "container:actions", {"project_id": row.project_id})
            return actions.history(session, row.uuid)

    def action_events(
        self, ctx: RequestContext, ident: str, request_id: str
    ) -> tuple[Action, list[ActionEvent]]:
        """One request's action on the container, with what the agent did about it."""
        with self.db.session() as session:
            row = self._find(session, ctx, ident)
            self.policy.enforce(ctx, "container:actions", {"project_id": row.project_id})
            for action in actions.history(session, row.uuid):
                if action.request_id == request_id:
                    return action, actions.events(session, action.id)
        raise NotFound(f"Action {request_id} on container {ident} could not be found.")

    def _networked(
        self, session: Session, ctx: RequestContext, ident: str, action: str
    ) -> Container:
        """The container, if its network may change now (a capsule's is the capsule's)."""
        row = self._act_on(session, ctx, ident)
        if row.capsule_id:
            raise Conflict(
                f"Container {row.uuid} belongs to capsule {row.capsule_id}, whose network "
                "cannot change."
            )
        _require(row, action)
        return row

    # --- capsules --------------------------------------------------------------------

    def create_capsule(self, ctx: RequestContext, template: Any) -> tuple[Capsule, list[Container]]:
        """The template's containers, claimed together on one host, run in one sandbox."""
        self.policy.enforce(ctx, "capsule:create", {"project_id": ctx.project_id})
        parsed = capsules.parse(template)
        capsule = Capsule(
            uuid=new_id(),
            name=parsed.name,
            project_id=ctx.project_id,
            user_id=ctx.user_id,
            labels=parsed.labels,
            restart_policy=parsed.restart_policy,
        )
        members = [self._new_row(ctx, body, run=True) for body in parsed.containers]
        for index, member in enumerate(members):
            member.capsule_id = capsule.uuid
            member.name = member.name or f"{parsed.name or capsule.uuid[:8]}-{index}"
        plan = self.networking.plan(ctx, parsed.nets, [])
        self._place(ctx, members, plan, capsule.uuid, None, None)  # one port for them all
        capsule.host = members[0].host
        with self.db.session() as session:
            session.add(capsule)
            for member in members:
                actions.record(session, ctx, member.uuid, "create")
        for member in members:
            self._cast(member, "create", container=spec(member), start=True)
        return capsule, members

    def get_capsule(self, ctx: RequestContext, ident: str) -> tuple[Capsule, list[Container]]:
        self.policy.enforce(ctx, "capsule:get", {"project_id": ctx.project_id})
        with self.db.session() as session:
            capsule = self._find_capsule(session, ctx, ident)
            return capsule, self._members(session, capsule.uuid)

    def list_capsules(
        self, ctx: RequestContext, all_projects: bool
    ) -> list[tuple[Capsule, list[Container]]]:
        self.policy.enforce(ctx, "capsule:get_all", {"project_id": ctx.project_id})
        query = sa.select(Capsule).order_by(Capsule.created_at, Capsule.uuid)
        if all_projects:
            self.policy.enforce(ctx, "container:get_all_all_projects")
        else:
            query = query.where(Capsule.project_id == ctx.project_id)
        with self.db.session() as session:
            return [(c, self._members(session, c.uuid)) for c in session.scalars(query)]

    def delete_capsule(self, ctx: RequestContext, ident: str) -> None:
        """Every container of the capsule goes (running or not), then the capsule."""
        with self.db.session() as session:
            capsule = self._find_capsule(session, ctx, ident)
            self.policy.enforce(ctx, "capsule:delete", {"project_id": capsule.project_id})
            members = self._members(session, capsule.uuid)
            if not members:
                session.delete(capsule)
                return
            for member in members:
                member.status = states.DELETING
                member.task_state = "deleting"
                actions.record(session, ctx, member.uuid, "delete")
        for member in members:
            self._cast(member, "delete", uuid=member.uuid)

    def _find_capsule(self, session: Session, ctx: RequestContext, ident: str) -> Capsule:
        query = sa.select(Capsule).where(sa.or_(Capsule.uuid == ident, Capsule.name == ident))
        if not ctx.is_admin:
            query = query.where(Capsule.project_id == ctx.project_id)
        rows = list(session.scalars(query.limit(2)))
        exact = [row for row in rows if row.uuid == ident]
        if exact or len(rows) == 1:
            return (exact or rows)[0]
        if not rows:
            raise NotFound(f"Capsule {ident} could not be found.")
        raise Conflict(f"Multiple capsules are named {ident}; use the uuid.")

    @staticmethod
    def _members(session: Session, capsule_id: str) -> list[Container]:
        query = sa.select(Container).where(Container.capsule_id == capsule_id)
        return list(session.scalars(query.order_by(Container.created_at, Container.uuid)))

    # --- hosts and quotas -------------------------------------------------------------

    def hosts(self, ctx: RequestContext) -> list[tuple[Host, tuple[float, int], bool]]:
        """Every agent's host, what its containers hold, and whether it is up."""
        self.policy.enforce(ctx, "host:get")
        with self.db.session() as session:
            used = scheduler.usage(session)
            rows = session.scalars(sa.select(Host).order_by(Host.hostname))
            down_time = self.settings.service_down_time
            return [
                (row, used.get(row.hostname, (0.0, 0)), scheduler.is_up(row, down_time))
                for row in rows
            ]

    def zones(self, ctx: RequestContext) -> list[str]:
        """The availability zones of the hosts."""
        self.policy.enforce(ctx, "availability_zone:get", {"project_id": ctx.project_id})
        with self.db.session() as session:
            query = sa.select(Host.availability_zone).distinct().order_by(Host.availability_zone)
            return list(session.scalars(query))

    def quota(
        self, ctx: RequestContext, project_id: str, usages: bool, defaults: bool = False
    ) -> dict[str, Any]:
        self.policy.enforce(ctx, "quota:get", {"project_id": project_id})
        with self.db.session() as session:
            limits = self.settings.quota_defaults
            if not defaults:
                limits = quotas.limits(session, project_id, limits)
            if not usages:
                return dict(limits)
            used = quotas.usage(session, project_id)
        return {r: {"limit": limits[r], "in_use": used[r]} for r in quotas.RESOURCES}

    def set_quota(
        self, ctx: RequestContext, project_id: str, values: dict[str, float]
    ) -> dict[str, Any]:
        self.policy.enforce(ctx, "quota:update", {"project_id": project_id})
        with self.db.session() as session:
            quotas.set_limits(session, project_id, values)
        return self.quota(ctx, project_id, usages=False)

    def delete_quota(self, ctx: RequestContext, project_id: str) -> None:
        self.policy.enforce(ctx, "quota:update", {"project_id": project_id})
        with self.db.session() as session:
            quotas.delete_limits(session, project_id)

    # --- helpers --------------------------------------------------------------------

    def _find(self, session: Session, ctx: RequestContext, ident: str) -> Container:
        stmt = sa.select(Container).where(sa.or_(Container.uuid == ident, Container.name == ident))
        if not ctx.is_admin:
            stmt = stmt.where(Container.project_id == ctx.project_id)
        rows = list(session.scalars(stmt.limit(2)))
        exact = [row for row in rows if row.uuid == ident]
        if exact:
            return exact[0]
        if not rows:
            raise NotFound(f"Container {ident} could not be found.")
        if len(rows) > 1:
            raise Conflict(f"Multiple containers are named {ident}; use the uuid.")
        return rows[0]

    def _act_on(self, session: Session, ctx: RequestContext, ident: str) -> Container:
        row = self._find(session, ctx, ident)
        self.policy.enforce(ctx, "container:action", {"project_id": row.project_id})
        if row.task_state is not None:
            raise Conflict(
                f"Container {row.uuid} is busy ({row.task_state}); try again when it is done."
            )
        return row

    def _cast(self, row: Container, method: str, **kwargs: Any) -> None:
        assert row.host is not None
        self.agents.cast(row.host, method, **kwargs)


_TASK_STATES = {
    "start": "starting",
    "stop": "stopping",
    "reboot": "rebooting",
    "pause": "pausing",
    "unpause": "unpausing",
    "kill": "killing",
}


def _require(container: Container, action: str) -> None:
    if container.status not in states.ALLOWED[action]:
        raise Conflict(
            f"Cannot {action.removesuffix('_stop')} container {container.uuid} "
            f"in {container.status} state."
        )


def _argv(value: list[str] | str | None) -> list[str] | None:
    """Before microversion 1.20 the command is one shell-quoted string."""
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise BadRequest(f"Cannot split {value!r} into arguments: {exc}") from exc
    return value
