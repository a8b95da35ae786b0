"""The DHCP port of a network: made by the server as soon as a subnet has DHCP on, with
an address on each such subnet, so that the DHCP server's address is reserved before
any other port takes it. The DHCP agent that serves the network takes it over."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.network import models, ports
from stratus.network.backend import Backend

RESERVED_DEVICE_ID = "reserved_dhcp_port"


def port_of(session: Session, network_id: str) -> models.Port | None:
    return session.scalar(
        sa.select(models.Port).where(
            models.Port.network_id == network_id, models.Port.device_owner == ports.DHCP
        )
    )


def sync_port(session: Session, backend: Backend, network: models.Network) -> None:
    """Give the DHCP port an address on every DHCP-enabled subnet and none on others;
    create it when the first such subnet appears, delete it when the last goes."""
    served = [s for s in network.subnets if s.enable_dhcp]
    port = port_of(session, network.id)
    if port is None:
        if served:
            spec = ports.PortSpec(
                project_id=network.project_id,
                device_owner=ports.DHCP,
                device_id=RESERVED_DEVICE_ID,
                fixed_ips=[ports.FixedIP(subnet_id=s.id) for s in served],
            )
            ports.create(session, backend, network, spec)
        return
    if not served:
        ports.delete(session, port)
        return
    wanted = {s.id for s in served}
    held = {a.subnet_id for a in port.fixed_ips}
    if held == wanted:
        return
    for allocation in [a for a in port.fixed_ips if a.subnet_id not in wanted]:
        port.fixed_ips.remove(allocation)
    session.flush()
    missing = [ports.FixedIP(subnet_id=s.id) for s in served if s.id not in held]
    ports.add_fixed_ips(session, port, network, missing)
    port.touch()
