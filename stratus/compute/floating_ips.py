"""The floating IPs a server shows, as the compute service records them; the network
service stays their source of truth. They are read again for some ports when the network
service tells of a change (``os-server-external-events``), and for every server in turn
by the conductor, so that an event that never came is healed (as Nova heals its cache
of a server's network information)."""

from __future__ import annotations

import sqlalchemy as sa

from stratus.compute.models import Instance, InstanceFloatingIP
from stratus.runtime.clients.catalog import ServiceNotInCatalog
from stratus.runtime.clients.network import NetworkApi
from stratus.runtime.db import Database

HEAL_BATCH = 50  # servers whose floating IPs one round reads again


def refresh(db: Database, network: NetworkApi, servers: dict[str, str]) -> None:
    """Record the floating IPs the network service now has on the ports ``servers``
    names (port id -> its server), with one request for them all."""
    floating = network.list_floating_ips(None, port_id=list(servers))
    with db.session() as session:
        session.execute(
            sa.delete(InstanceFloatingIP).where(InstanceFloatingIP.port_id.in_(list(servers)))
        )
        session.add_all(
            InstanceFloatingIP(
                instance_uuid=servers[item["port_id"]],
                port_id=item["port_id"],
                floating_ip_address=item["floating_ip_address"],
            )
            for item in floating
            if item.get("port_id") in servers
        )


class Healing:
    """Each round reads again the floating IPs of the next ``batch`` servers (by uuid,
    from where the last round stopped, starting over after the last one)."""

    def __init__(self, db: Database, network: NetworkApi, batch: int = HEAL_BATCH) -> None:
        self.db = db
        self.network = network
        self.batch = batch
        self._after = ""

    def run(self) -> None:
        with self.db.session() as session:
            rows = session.execute(
                sa.select(Instance.uuid, Instance.network_info)
                .where(Instance.deleted.is_(False), Instance.uuid > self._after)
                .order_by(Instance.uuid)
                .limit(self.batch)
            ).all()
        self._after = rows[-1].uuid if len(rows) == self.batch else ""
        ports = {vif["port_id"]: uuid for uuid, info in rows for vif in info or []}
        if not ports:
            return
        try:
            refresh(self.db, self.network, ports)
        except ServiceNotInCatalog:
            return  # a cloud without a network service: no floating IP to show
