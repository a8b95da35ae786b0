"""The default external network ``public``: a flat network on a host bridge that carries
its gateway address, so that this host reaches floating IPs directly (as on a devstack
host). The bridge has no physical interface in it, so its addresses never leave the
host; the L2 agent makes the bridge and its address (see ``stratus.network.agent.l2``).

:func:`ensure_public_network` is what ``stratus bootstrap`` calls to record it.
"""

from __future__ import annotations

import ipaddress

import sqlalchemy as sa

from stratus.network import models
from stratus.runtime.api.context import ROLE_IMPLICATIONS, RequestContext
from stratus.runtime.config import Config, Opt, register
from stratus.runtime.process import Runtime

register(
    "network",
    Opt(
        "public_cidr",
        "172.24.4.0/24",
        "Subnet of the default external network (floating IPs, router gateways); its first "
        "address is the gateway, carried by public_bridge on this host. Empty: no public "
        "network.",
    ),
    Opt("public_bridge", "br-ex", "Host bridge the public network is attached to."),
    Opt("public_physnet", "public", "Physical network name of the public network."),
    Opt("public_network_name", "public", "Name of the external network bootstrap creates."),
)


def gateway(conf: Config) -> str | None:
    """The public gateway as ``address/prefixlen`` (the host bridge's address), if any."""
    cidr = conf.network.public_cidr
    if not cidr:
        return None
    net = ipaddress.ip_network(cidr)
    return f"{next(net.hosts())}/{net.prefixlen}"


def ensure_public_network(runtime: Runtime, project_id: str) -> str | None:
    """Create the external network and its subnet, owned by ``project_id`` (the admin
    project), unless a network of that name exists; return its id (None when
    ``[network] public_cidr`` is empty). Safe to run on every bootstrap.

    The network service's own handlers do the work, so every check the API makes
    applies; the database is migrated first.
    """
    from stratus.network.api import make_backend, networks, subnets
    from stratus.runtime import migrations

    conf: Config = runtime.conf
    address = gateway(conf)
    if address is None:
        return None
    db = runtime.database("network")
    migrations.upgrade("network", db)
    backend = make_backend(runtime)
    name = conf.network.public_network_name

    def existing(session: sa.orm.Session) -> str | None:
        return session.scalar(
            sa.select(models.Network.id).where(
                models.Network.name == name, models.Network.external.is_(True)
            )
        )

    found = backend.transaction(existing)
    if found is not None:
        return found
    ctx = RequestContext(
        user_id="bootstrap",
        user_name="bootstrap",
        user_domain_id="default",
        roles=frozenset({"admin", *ROLE_IMPLICATIONS["admin"]}),
        project_id=project_id,
        project_name="admin",
        project_domain_id="default",
    )
    network = networks.create_network(
        body=networks.CreateRequest.model_validate(
            {
                "network": {
                    "name": name,
                    "router:external": True,
                    "provider:network_type": "flat",
                    "provider:physical_network": conf.network.public_physnet,
                }
            }
        ),
        ctx=ctx,
        be=backend,
    )["network"]
    subnets.create_subnet(
        body=subnets.CreateRequest.model_validate(
            {
                "subnet": {
                    "name": f"{name}-subnet",
                    "network_id": network["id"],
                    "ip_version": 4,
                    "cidr": conf.network.public_cidr,
                    "gateway_ip": address.split("/")[0],
                    "enable_dhcp": False,
                }
            }
        ),
        ctx=ctx,
        be=backend,
    )
    return network["id"]
