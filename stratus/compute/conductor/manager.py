"""The conductor part, on the ``compute-conductor`` topic: drives builds and resizes
(schedule, hand to an agent, retry elsewhere, or ERROR with a fault), records what agents
report, and is the only writer of server state on their behalf."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.compute import (
    consoles,
    options,  # noqa: F401 - declares the options read here
    records,
    services,
    states,
    zones,
)
from stratus.compute.models import (
    ComputeNode,
    Instance,
    InstanceFloatingIP,
    Migration,
    ServerGroup,
    ServerGroupMember,
)
from stratus.compute.scheduler import claims
from stratus.compute.scheduler.manager import TOPIC as SCHEDULER_TOPIC
from stratus.compute.scheduler.request import GroupInfo, RequestSpec
from stratus.runtime.bus import Bus, RemoteError
from stratus.runtime.config import Config
from stratus.runtime.db import Database, new_id, utcnow

LOG = logging.getLogger(__name__)

TOPIC = "compute-conductor"
AGENT_TOPIC = "compute-agent"
SCHEDULE_TIMEOUT = 120.0
# A build still waiting for a host this long after its last change is one nobody works
# on any more: its conductor died, or the message asking for it was lost.
STUCK_BUILD_SECONDS = 2 * SCHEDULE_TIMEOUT
FINISHED_MIGRATION = ("confirmed", "reverted", "error")


class UnexpectedTaskState(Exception):
    """The server is not doing what the agent thought (deleted, or another task took over)."""


class Conductor:
    def __init__(self, conf: Config, db: Database, bus: Bus) -> None:
        self.db = db
        self.bus = bus
        self.max_attempts = max(1, conf.scheduler.max_attempts)
        self.allow_same_host = conf.compute.allow_resize_to_same_host
        self.default_zone = conf.compute.default_availability_zone

    # -- building servers ---------------------------------------------------------------

    def build_instances(self, instance_uuids: list[str], request_id: str | None = None) -> None:
        """Schedule new servers (one request, one flavor) and hand each to its host."""
        with self.db.session() as session:
            instances = [
                i
                for i in (session.get(Instance, uuid) for uuid in instance_uuids)
                if i is not None and i.vm_state == states.BUILDING
            ]
            if not instances:
                return
            spec = self._spec(session, instances[0], [i.uuid for i in instances])
        self._schedule_and_build(spec, request_id)

    def heal_builds(self) -> None:
        """Schedule again the builds nobody is scheduling (run periodically). Each is
        taken with a compare-and-set of its update time, so one conductor takes it."""
        stamp = sa.func.coalesce(Instance.updated_at, Instance.created_at)
        cutoff = utcnow() - timedelta(seconds=STUCK_BUILD_SECONDS)
        with self.db.session() as session:
            stuck = session.execute(
                sa.select(Instance.uuid, stamp).where(
                    Instance.vm_state == states.BUILDING,
                    Instance.task_state == states.SCHEDULING,
                    Instance.host.is_(None),
                    stamp < cutoff,
                )
            ).all()
        for uuid, seen in stuck:
            with self.db.session() as session:
                taken = session.execute(
                    sa.update(Instance.__table__)
                    .where(Instance.uuid == uuid, stamp == seen)
                    .values(updated_at=utcnow())
                ).rowcount
            if taken:
                LOG.warning("scheduling server %s again: its build was abandoned", uuid)
                claims.release(self.db, uuid)
                self.build_instances([uuid])

    def build_failed(
        self,
        instance_uuid: str,
        agent_host: str,
        message: str,
        details: str = "",
        request_id: str | None = None,
        retry: bool = True,
    ) -> None:
        """An agent could not build the server: free its claim and try another host, up
        to ``[scheduler] max_attempts`` hosts, then ERROR with the fault."""
        claims.release(self.db, instance_uuid)
        with self.db.session() as session:
            instance = session.get(Instance, instance_uuid)
            if instance is None or instance.vm_state != states.BUILDING:
                return
            tried = instance.request.get("tried_hosts", [])
            records.record_event(
                session,
                instance_uuid,
                request_id,
                "compute__do_build_and_run_instance",
                error=details or message,
                host=agent_host,
            )
            if not retry or len(tried) >= self.max_attempts:
                if retry:
                    message = f"Exceeded maximum number of retries. {message}"
                self._error(session, instance, message, details, agent_host)
                return
            instance.host = instance.node = None
            instance.task_state = states.SCHEDULING
            spec = self._spec(session, instance, [instance_uuid])
        self._schedule_and_build(spec, request_id)

    def _spec(self, session: Session, instance: Instance, consumers: list[str]) -> RequestSpec:
        request = instance.request
        group = None
        if request.get("group"):
            group = self._group(session, request["group"], exclude=set(consumers))
        return RequestSpec(
            consumers=consumers,
            project_id=instance.project_id,
            flavor=instance.flavor,
            image_properties=instance.image_properties,
            availability_zone=request.get("availability_zone"),
            force_host=request.get("force_host"),
            force_node=request.get("force_node"),
            ignore_hosts=list(request.get("tried_hosts", [])),
            group=group,
        )

    def _group(self, session: Session, group_id: str, exclude: set[str]) -> GroupInfo | None:
        group = session.get(ServerGroup, group_id)
        if group is None:
            return None
        members = [m.instance_uuid for m in group.members if m.instance_uuid not in exclude]
        hosts = []
        if members:
            hosts = list(
                session.scalars(
                    sa.select(Instance.host).where(
                        Instance.uuid.in_(members),
                        Instance.host.is_not(None),
                        Instance.deleted.is_(False),
                    )
                )
            )
        return GroupInfo(id=group.id, policy=group.policy, hosts=hosts, rules=group.rules)

    def _schedule_and_build(self, spec: RequestSpec, request_id: str | None) -> None:
        started = utcnow()
        try:
            selections = self.bus.call(
                SCHEDULER_TOPIC,
                "select_destinations",
                spec=spec.to_dict(),
                timeout=SCHEDULE_TIMEOUT,
            )
        except RemoteError as exc:
            message = exc.message if exc.exc_type == "NoValidHost" else str(exc)
            with self.db.session() as session:
                for uuid in spec.consumers:
                    instance = session.get(Instance, uuid)
                    if instance is None or instance.vm_state != states.BUILDING:
                        continue
                    records.record_event(
                        session,
                        uuid,
                        request_id,
                        "conductor_schedule_and_build_instances",
                        start_time=started,
                        error=message,
                    )
                    self._error(session, instance, message, exc.remote_traceback, None)
            return
        for selection in selections:
            self._hand_to_host(selection, request_id, started)

    def _hand_to_host(
        self, selection: dict[str, Any], request_id: str | None, started: datetime
    ) -> None:
        uuid, host = selection["consumer"], selection["host"]
        with self.db.session() as session:
            instance = session.get(Instance, uuid)
            if instance is None or instance.vm_state != states.BUILDING:
                gone = True  # deleted while it was being scheduled
            elif not _group_allows(session, instance, host):
                instance.request = {
                    **instance.request,
                    "tried_hosts": [*instance.request.get("tried_hosts", []), host],
                }
                gone = None  # a concurrent build took the group's place on that host
            else:
                gone = False
                instance.host = selection["host"]
                instance.node = selection["node"]
                if instance.availability_zone is None:  # the zone of the host it got
                    instance.availability_zone = zones.zone_of(
                        session, selection["host"], self.default_zone
                    )
                instance.task_state = states.SPAWNING
                instance.request = {
                    **instance.request,
                    "tried_hosts": [*instance.request.get("tried_hosts", []), selection["host"]],
                }
                records.record_event(
                    session,
                    uuid,
                    request_id,
                    "conductor_schedule_and_build_instances",
                    start_time=started,
                )
                payload = records.wire(instance)
        if gone is None:
            message = f"The server group's policy no longer allows host {host}."
            self.build_failed(uuid, host, message, request_id=request_id)
            return
        if gone:
            claims.release(self.db, uuid)
            return
        self.bus.cast(
            AGENT_TOPIC,
            "build_and_run_instance",
            host=selection["host"],
            instance=payload,
            request_id=request_id,
        )

    def _error(
        self, session: Session, instance: Instance, message: str, details: str, host: str | None
    ) -> None:
        instance.vm_state = states.ERROR
        instance.task_state = None
        records.add_fault(session, instance.uuid, message, details=details, host=host)

    # -- what agents report -------------------------------------------------------------

    def finish_task(
        self,
        instance_uuid: str,
        values: dict[str, Any],
        event: str,
        agent_host: str,
        request_id: str | None = None,
        start_time: str | None = None,
        expected_task_states: list[str | None] | None = None,
        fault: str | None = None,
        fault_details: str = "",
    ) -> dict[str, Any] | None:
        """Record the outcome of an agent's work on a server: the new values, the event
        and, if it failed, the fault. Returns the server as it is now (None if gone)."""
        with self.db.session() as session:
            instance = session.get(Instance, instance_uuid)
            if instance is None or instance.deleted:
                return None
            if expected_task_states is not None and instance.task_state not in (
                expected_task_states
            ):
                raise UnexpectedTaskState(
                    f"server {instance_uuid} is in task state {instance.task_state}, "
                    f"not {expected_task_states}"
                )
            for key, value in _decode(values).items():
                setattr(instance, key, value)
            if fault:
                records.add_fault(
                    session, instance_uuid, fault, details=fault_details, host=agent_host
                )
            records.record_event(
                session,
                instance_uuid,
                request_id,
                event,
                start_time=_time(start_time),
                error=fault_details or fault,
                host=agent_host,
            )
            session.flush()
            return records.wire(instance)

    def instance_destroyed(
        self,
        instance_uuid: str,
        agent_host: str | None,
        request_id: str | None = None,
        start_time: str | None = None,
    ) -> None:
        """The server's domain and ports are gone: mark it deleted and free what it held."""
        with self.db.session() as session:
            instance = session.get(Instance, instance_uuid)
            if instance is None or instance.deleted:
                return
            mark_deleted(session, instance)
            records.record_event(
                session,
                instance_uuid,
                request_id,
                "compute_terminate_instance",
                start_time=_time(start_time),
                host=agent_host,
            )

    def sync_power_state(self, instance_uuid: str, power_state: int) -> None:
        """What the hypervisor says of a server that no task is working on; a server
        found shut off is stopped, as Nova does."""
        with self.db.session() as session:
            instance = session.get(Instance, instance_uuid)
            if instance is None or instance.deleted or instance.task_state is not None:
                return
            instance.power_state = power_state
            down = power_state in (states.SHUTDOWN, states.CRASHED, states.NOSTATE)
            if instance.vm_state == states.ACTIVE and down:
                instance.vm_state = states.STOPPED

    def instances_on_host(self, agent_host: str) -> list[dict[str, Any]]:
        """The servers the database places on a host (what its agent reconciles to)."""
        with self.db.session() as session:
            found = session.scalars(
                sa.select(Instance).where(Instance.host == agent_host, Instance.deleted.is_(False))
            )
            return [records.wire(instance) for instance in found]

    def network_info(self, instance_uuid: str) -> list[dict[str, Any]] | None:
        """A server's ports as recorded now (None if it is gone): an action's copy of the
        server was read when the action was asked for, and may predate an interface
        attached or detached since (an attach takes no task state)."""
        with self.db.session() as session:
            instance = session.get(Instance, instance_uuid)
            if instance is None or instance.deleted:
                return None
            return list(instance.network_info or [])

    def orphans(self, agent_host: str, instance_uuids: list[str]) -> list[str]:
        """Of the servers that have a domain on ``agent_host`` but are not placed there, those
        whose domain can go: deleted or unknown, or elsewhere with no resize under way
        that involves the host."""
        with self.db.session() as session:
            alive = {
                i.uuid
                for i in session.scalars(
                    sa.select(Instance).where(
                        Instance.uuid.in_(instance_uuids), Instance.deleted.is_(False)
                    )
                )
            }
            resizing = set(
                session.scalars(
                    sa.select(Migration.instance_uuid).where(
                        Migration.instance_uuid.in_(alive),
                        Migration.status.not_in(FINISHED_MIGRATION),
                        sa.or_(
                            Migration.source_compute == agent_host,
                            Migration.dest_compute == agent_host,
                        ),
                    )
                )
            )
        return [uuid for uuid in instance_uuids if uuid not in alive or uuid not in resizing]

    def report(self, hosts: list[dict[str, Any]]) -> None:
        """Heartbeats and resources of agent hosts: ``[{"host", "nodes": [...]}]``."""
        with self.db.session() as session:
            for entry in hosts:
                services.heartbeat_in(session, entry["host"], *services.AGENT)
                for node in entry["nodes"]:
                    _save_node(session, entry["host"], node)

    # -- interfaces and consoles --------------------------------------------------------

    def interface_attached(
        self,
        instance_uuid: str,
        vif: dict[str, Any],
        agent_host: str,
        request_id: str | None = None,
        start_time: str | None = None,
    ) -> dict[str, Any] | None:
        """A port the agent plugged into the server joins its ``network_info``. None if
        the server is gone or being deleted (the agent then undoes the attach: the delete
        works from the ports the server had when it was asked for)."""
        with self.db.session() as session:
            instance = session.get(Instance, instance_uuid)
            if instance is None or instance.deleted or instance.task_state == states.DELETING:
                return None
            others = [v for v in instance.network_info if v["port_id"] != vif["port_id"]]
            instance.network_info = [*others, vif]
            records.record_event(
                session,
                instance_uuid,
                request_id,
                "compute_attach_interface",
                start_time=_time(start_time),
                host=agent_host,
            )
            return vif

    def interface_detached(
        self,
        instance_uuid: str,
        port_id: str,
        agent_host: str,
        request_id: str | None = None,
        start_time: str | None = None,
    ) -> None:
        with self.db.session() as session:
            instance = session.get(Instance, instance_uuid)
            if instance is None or instance.deleted:
                return
            instance.network_info = [v for v in instance.network_info if v["port_id"] != port_id]
            records.record_event(
                session,
                instance_uuid,
                request_id,
                "compute_detach_interface",
                start_time=_time(start_time),
                host=agent_host,
            )

    def claim_console(self, token: str, proxy_url: str) -> dict[str, Any] | None:
        """Where the console ``token`` opens listens, if the serial proxy at ``proxy_url``
        may open it (once)."""
        with self.db.session() as session:
            return consoles.claim(session, token, proxy_url)

    # -- resizes ------------------------------------------------------------------------

    def resize_instance(
        self, instance_uuid: str, flavor: dict[str, Any], request_id: str | None = None
    ) -> None:
        """Claim the new flavor on a host (the source's claim moves to the migration)
        and have the source agent start the resize."""
        started = utcnow()
        migration_uuid = new_id()
        with self.db.session() as session:
            instance = session.get(Instance, instance_uuid)
            if instance is None or instance.task_state != states.RESIZE_PREP:
                return
            session.add(
                Migration(
                    uuid=migration_uuid,
                    instance_uuid=instance_uuid,
                    status="pre-migrating",
                    source_compute=instance.host,
                    source_node=instance.node,
                )
            )
            claims.move(session, instance_uuid, migration_uuid)
            spec = self._spec(session, instance, [instance_uuid])
            spec.flavor = flavor
            spec.ignore_hosts = [] if self.allow_same_host else [instance.host or ""]
            source = session.scalar(
                sa.select(ComputeNode).where(ComputeNode.hypervisor_hostname == instance.node)
            )
            if source is not None and source.capabilities.get("resize_across_hosts") is False:
                # Its driver cannot move disks between hosts: the resize stays where it is.
                spec.force_host, spec.force_node, spec.ignore_hosts = instance.host, None, []
        try:
            selection = self.bus.call(
                SCHEDULER_TOPIC,
                "select_destinations",
                spec=spec.to_dict(),
                timeout=SCHEDULE_TIMEOUT,
            )[0]
        except RemoteError as exc:
            with self.db.session() as session:
                claims.move(session, migration_uuid, instance_uuid)
                migration = _migration(session, migration_uuid)
                migration.status = "error"
                instance = session.get(Instance, instance_uuid)
                if instance is not None:
                    instance.task_state = None
                    records.add_fault(
                        session, instance_uuid, exc.message, details=exc.remote_traceback
                    )
                    records.record_event(
                        session,
                        instance_uuid,
                        request_id,
                        "conductor_migrate_server",
                        start_time=started,
                        error=exc.message,
                    )
            return
        with self.db.session() as session:
            migration = _migration(session, migration_uuid)
            migration.dest_compute = selection["host"]
            migration.dest_node = selection["node"]
            migration.status = "migrating"
            instance = session.get(Instance, instance_uuid)
            instance.new_flavor = flavor
            instance.task_state = states.RESIZE_MIGRATING
            records.record_event(
                session, instance_uuid, request_id, "conductor_migrate_server", start_time=started
            )
            payload = records.wire(instance)
            source = instance.host
        self.bus.cast(
            AGENT_TOPIC,
            "resize_instance",
            host=source,
            instance=payload,
            migration=migration_wire(migration),
            request_id=request_id,
        )

    def resize_migrated(self, migration_uuid: str, request_id: str | None = None) -> None:
        """The source has let go of the server: have the destination finish the resize."""
        with self.db.session() as session:
            migration = _migration(session, migration_uuid)
            migration.status = "post-migrating"
            instance = session.get(Instance, migration.instance_uuid)
            instance.task_state = states.RESIZE_FINISH
            payload = records.wire(instance)
        self.bus.cast(
            AGENT_TOPIC,
            "finish_resize",
            host=migration.dest_compute,
            instance=payload,
            migration=migration_wire(migration),
            request_id=request_id,
        )

    def resize_failed(
        self,
        migration_uuid: str,
        agent_host: str,
        message: str,
        details: str = "",
        request_id: str | None = None,
        event: str = "compute_resize_instance",
    ) -> None:
        """A resize step failed: the destination's claim is freed, the server goes to
        ERROR on the host it was last on (as Nova leaves it)."""
        with self.db.session() as session:
            migration = _migration(session, migration_uuid)
            migration.status = "error"
            claims.release_in(session, migration.instance_uuid)
            claims.move(session, migration_uuid, migration.instance_uuid)
            instance = session.get(Instance, migration.instance_uuid)
            instance.new_flavor = None
            records.record_event(
                session, instance.uuid, request_id, event, error=details or message, host=agent_host
            )
            self._error(session, instance, message, details, agent_host)

    def resize_finished(
        self,
        migration_uuid: str,
        agent_host: str,
        power_state: int,
        request_id: str | None = None,
        start_time: str | None = None,
    ) -> None:
        with self.db.session() as session:
            migration = _migration(session, migration_uuid)
            migration.status = "finished"
            instance = session.get(Instance, migration.instance_uuid)
            instance.old_flavor, instance.flavor = instance.flavor, instance.new_flavor
            instance.new_flavor = None
            instance.host, instance.node = migration.dest_compute, migration.dest_node
            instance.vm_state = states.RESIZED
            instance.task_state = None
            instance.power_state = power_state
            records.record_event(
                session,
                instance.uuid,
                request_id,
                "compute_finish_resize",
                start_time=_time(start_time),
                host=agent_host,
            )

    def resize_confirmed(
        self,
        migration_uuid: str,
        agent_host: str,
        request_id: str | None = None,
        start_time: str | None = None,
    ) -> None:
        """The source is cleaned up: free the old flavor's claim."""
        with self.db.session() as session:
            migration = _migration(session, migration_uuid)
            migration.status = "confirmed"
            claims.release_in(session, migration_uuid)
            instance = session.get(Instance, migration.instance_uuid)
            instance.old_flavor = None
            instance.task_state = None
            running = instance.power_state == states.RUNNING
            instance.vm_state = states.ACTIVE if running else states.STOPPED
            records.record_event(
                session,
                instance.uuid,
                request_id,
                "compute_confirm_resize",
                start_time=_time(start_time),
                host=agent_host,
            )

    def resize_reverted_on_destination(
        self, migration_uuid: str, request_id: str | None = None
    ) -> None:
        """The destination let go: give the source its claim back and have it restart the
        server with the old flavor."""
        with self.db.session() as session:
            migration = _migration(session, migration_uuid)
            claims.release_in(session, migration.instance_uuid)
            claims.move(session, migration_uuid, migration.instance_uuid)
            instance = session.get(Instance, migration.instance_uuid)
            instance.flavor, instance.old_flavor = instance.old_flavor or instance.flavor, None
            instance.host, instance.node = migration.source_compute, migration.source_node
            payload = records.wire(instance)
        self.bus.cast(
            AGENT_TOPIC,
            "finish_revert_resize",
            host=migration.source_compute,
            instance=payload,
            migration=migration_wire(migration),
            request_id=request_id,
        )

    def resize_reverted(
        self,
        migration_uuid: str,
        agent_host: str,
        power_state: int,
        request_id: str | None = None,
        start_time: str | None = None,
    ) -> None:
        with self.db.session() as session:
            migration = _migration(session, migration_uuid)
            migration.status = "reverted"
            instance = session.get(Instance, migration.instance_uuid)
            instance.vm_state = states.ACTIVE if power_state == states.RUNNING else states.STOPPED
            instance.task_state = None
            instance.power_state = power_state
            records.record_event(
                session,
                instance.uuid,
                request_id,
                "compute_finish_revert_resize",
                start_time=_time(start_time),
                host=agent_host,
            )


def _group_allows(session: Session, instance: Instance, host: str) -> bool:
    """The late check of (anti-)affinity: with the group's row locked (a no-op update
    that every database serializes), whether the members already placed still let the
    server go to ``host`` -- concurrent builds are scheduled on views that miss each other.
    """
    group_id = instance.request.get("group")
    if not group_id:
        return True
    table = ServerGroup.__table__
    session.execute(sa.update(table).where(table.c.id == group_id).values(policy=table.c.policy))
    group = session.get(ServerGroup, group_id)
    if group is None or group.policy not in ("affinity", "anti-affinity"):
        return True
    members = [m.instance_uuid for m in group.members if m.instance_uuid != instance.uuid]
    placed = list(
        session.scalars(
            sa.select(Instance.host).where(
                Instance.uuid.in_(members), Instance.host.is_not(None), Instance.deleted.is_(False)
            )
        )
    )
    if group.policy == "anti-affinity":
        return placed.count(host) < int(group.rules.get("max_server_per_host", 1))
    return all(other == host for other in placed)


def mark_deleted(session: Session, instance: Instance) -> None:
    """Soft-delete a server and free everything it held (claims, group membership, the
    floating IPs its ports had, which the network service frees with the ports)."""
    now = utcnow()
    instance.vm_state = states.DELETED
    instance.task_state = None
    instance.power_state = states.NOSTATE
    instance.deleted = True
    instance.deleted_at = instance.terminated_at = now
    claims.release_in(session, instance.uuid)
    consoles.forget(session, instance.uuid)
    for migration in session.scalars(
        sa.select(Migration).where(Migration.instance_uuid == instance.uuid)
    ):
        claims.release_in(session, migration.uuid)
    for model in (ServerGroupMember, InstanceFloatingIP):
        table = model.__table__
        session.execute(sa.delete(table).where(table.c.instance_uuid == instance.uuid))


def _migration(session: Session, uuid: str) -> Migration:
    migration = session.scalar(sa.select(Migration).where(Migration.uuid == uuid))
    if migration is None:
        raise LookupError(f"no migration {uuid}")
    return migration


def migration_wire(migration: Migration) -> dict[str, Any]:
    return {
        "uuid": migration.uuid,
        "instance_uuid": migration.instance_uuid,
        "source_compute": migration.source_compute,
        "source_node": migration.source_node,
        "dest_compute": migration.dest_compute,
        "dest_node": migration.dest_node,
    }


_NODE_FIELDS = (
    "hypervisor_type",
    "hypervisor_version",
    "host_ip",
    "vcpus",
    "memory_mb",
    "local_gb",
    "reserved_vcpus",
    "reserved_memory_mb",
    "reserved_disk_gb",
    "cpu_allocation_ratio",
    "ram_allocation_ratio",
    "disk_allocation_ratio",
    "cpu_info",
    "capabilities",
)


def _save_node(session: Session, host: str, report: dict[str, Any]) -> None:
    values = {key: report[key] for key in _NODE_FIELDS if key in report}
    name = report["hypervisor_hostname"]
    node = session.scalar(sa.select(ComputeNode).where(ComputeNode.hypervisor_hostname == name))
    if node is None:
        session.add(ComputeNode(uuid=new_id(), host=host, hypervisor_hostname=name, **values))
        session.flush()
        return
    node.host = host
    for key, value in values.items():
        if getattr(node, key) != value:
            setattr(node, key, value)


_TIME_FIELDS = ("launched_at", "terminated_at")


def _decode(values: dict[str, Any]) -> dict[str, Any]:
    """Values as they came over the bus (JSON), as the columns take them."""
    return {k: _time(v) if k in _TIME_FIELDS else v for k, v in values.items()}


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
