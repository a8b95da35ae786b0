"""Docker networks and IPAM pools, and the Stratus networks and subnets they stand for.

Docker asks the IPAM driver for a pool *before* it tells the network driver which network
it is making (``RequestPool``, the gateway's ``RequestAddress``, then ``CreateNetwork``),
and the IPAM driver only sees ``--subnet`` and the IPAM options (``--ipam-opt``), never
the driver options (``--opt``). So a pool is tied to its Stratus subnet either at once
(``--ipam-opt stratus.net=<id>``: the pool is the subnet given by ``--subnet``, or the
network's first IPv4 subnet, and Docker shows its CIDR and gateway) or by
``CreateNetwork`` (``--opt stratus.net=<id>`` only), which names its pools by CIDR:

- with ``--subnet``, the pool is that CIDR, and the subnet is found by it on the network;
- with neither, the pool is a placeholder, a /32 of 240.0.0.0/4 (reserved, never routed)
  unique among this plugin's pools, so that ``CreateNetwork`` knows which pool it names;
  it is tied to the network's first IPv4 subnet. ``docker network inspect`` shows the
  placeholder; a container's address, prefix and gateway are its port's. (Docker refuses
  ``--ip`` on a network whose ``--subnet`` the user did not give.)

Two networks with the same ``--subnet`` and no ``--ipam-opt`` created at the same moment
cannot be told apart: ``CreateNetwork`` refuses (creating it again works) rather than guess.
"""

from __future__ import annotations

import ipaddress
import random
import uuid
from typing import Any

from stratus.container.netplugin.errors import PluginError
from stratus.container.netplugin.state import Network, Pool, State, now
from stratus.container.subnets import ipv4_subnets
from stratus.runtime.clients.network import NetworkApi

OPTION = "stratus.net"  # the Stratus network id, as a driver or IPAM option
GENERIC = "com.docker.network.generic"  # where CreateNetwork carries the driver options
# Docker's label of a gateway: in RequestPool's Data, and RequestAddress's RequestAddressType
GATEWAY = "com.docker.network.gateway"
PLACEHOLDERS = ipaddress.IPv4Network("240.0.0.0/4")
PENDING_TTL = 300.0  # seconds a pool waits for its CreateNetwork before it is stale


class Mapping:
    def __init__(self, api: NetworkApi, state: State) -> None:
        self.api = api
        self.state = state

    # --- IPAM pools -----------------------------------------------------------------

    def request_pool(
        self, cidr: str, sub_pool: str, options: dict[str, str], v6: bool
    ) -> tuple[str, Pool]:
        """A new pool (its id and record) for ``RequestPool``."""
        if v6:
            raise PluginError("IPv6 pools are not supported by the Stratus IPAM driver yet.")
        if sub_pool:
            raise PluginError(
                "--ip-range is not supported: addresses come from the Stratus subnet's "
                "allocation pools."
            )
        given = _cidr(cidr) if cidr else None
        network_id = options.get(OPTION)
        if network_id:
            network = self.network(network_id)
            pool = self._bound(Pool(given or ""), network, self._subnet(network, given))
        else:
            pool = Pool(given or "", placeholder=given is None)
        pool_id = uuid.uuid4().hex
        with self.state.change() as state:
            if pool.placeholder:
                pool.cidr = _placeholder({p.cidr for p in state.pools.values()})
            state.pools[pool_id] = pool
        return pool_id, pool

    def gateway(self, pool_id: str, requested: str | None) -> str:
        """The address (CIDR form) Docker records as the network's gateway: the subnet's;
        for a pool not tied to one yet, the one asked for or the pool's first."""
        pool = self.pool(pool_id)
        prefix = ipaddress.IPv4Network(pool.cidr).prefixlen
        if pool.gateway:
            if requested and requested != pool.gateway:
                raise PluginError(
                    f"The gateway of subnet {pool.subnet_id} is {pool.gateway}, not {requested}."
                )
            return f"{pool.gateway}/{prefix}"
        return f"{requested or ipaddress.IPv4Network(pool.cidr).network_address}/{prefix}"

    def release_pool(self, pool_id: str) -> None:
        with self.state.change() as state:
            state.pools.pop(pool_id, None)

    def pool(self, pool_id: str) -> Pool:
        with self.state.locked() as state:
            pool = state.pools.get(pool_id)
        if pool is None:
            raise PluginError(f"Pool {pool_id} is unknown to this plugin.")
        return pool

    def bound_pool(self, pool_id: str) -> Pool:
        """The pool, which must be tied to a Stratus subnet already."""
        pool = self.pool(pool_id)
        if pool.subnet_id is None or pool.subnet_cidr is None:
            raise PluginError(
                "Auxiliary addresses are not supported by the Stratus IPAM driver "
                f"(pool {pool.cidr} has no Stratus subnet until its network is made)."
            )
        return pool

    # --- Docker networks ------------------------------------------------------------

    def create_network(
        self, docker_network: str, options: dict[str, Any], ipv4: list[dict[str, Any]]
    ) -> str:
        """Tie a new Docker network and its pools to their Stratus network (its id)."""
        if not ipv4:
            raise PluginError("Docker gave the network no IPv4 pool.")
        wanted = (options.get(GENERIC) or {}).get(OPTION)
        with self.state.locked() as state:
            pool_ids = [_claimable(state, _cidr(entry["Pool"]), wanted) for entry in ipv4]
            pools = [state.pools[pool_id] for pool_id in pool_ids]
        named = {p.network_id for p in pools if p.network_id} | ({wanted} if wanted else set())
        if len(named) > 1:
            raise PluginError(
                f"--opt {OPTION} and --ipam-opt {OPTION} name different networks: "
                f"{', '.join(sorted(named))}."
            )
        network_id = named.pop()
        network = self.network(network_id)
        subnets = {
            pool_id: self._subnet(network, None if pool.placeholder else pool.cidr)
            for pool_id, pool in zip(pool_ids, pools, strict=True)
            if pool.subnet_id is None
        }
        with self.state.change() as state:
            for pool_id in pool_ids:
                pool = state.pools.get(pool_id)
                if pool is None or pool.docker_network is not None:
                    raise PluginError("Another network took this pool meanwhile; create it again.")
            for pool_id in pool_ids:
                pool = state.pools[pool_id]
                if pool_id in subnets:
                    self._bound(pool, network, subnets[pool_id])
                pool.docker_network = docker_network
            state.networks[docker_network] = Network(network_id)
        return network_id

    def delete_network(self, docker_network: str) -> None:
        with self.state.change() as state:
            state.networks.pop(docker_network, None)

    # --- the network service --------------------------------------------------------

    def network(self, network_id: str) -> dict[str, Any]:
        network = self.api.show_network(network_id, None)
        if network is None:
            raise PluginError(
                f"Network {network_id} does not exist, or the container service may not use it."
            )
        return network

    def _subnet(self, network: dict[str, Any], cidr: str | None) -> dict[str, Any]:
        """The network's IPv4 subnet with ``cidr``, or its first one."""
        subnets = ipv4_subnets(self.api, network)
        if cidr is not None:
            subnets = [s for s in subnets if _cidr(s["cidr"]) == cidr]
            if not subnets:
                raise PluginError(f"Network {network['id']} has no subnet {cidr}.")
        if not subnets:
            raise PluginError(f"Network {network['id']} has no IPv4 subnet.")
        return subnets[0]

    @staticmethod
    def _bound(pool: Pool, network: dict[str, Any], subnet: dict[str, Any]) -> Pool:
        pool.network_id = network["id"]
        pool.project_id = network.get("project_id") or network.get("tenant_id")
        pool.subnet_id = subnet["id"]
        pool.subnet_cidr = _cidr(subnet["cidr"])
        pool.gateway = subnet.get("gateway_ip")
        if not pool.placeholder:
            pool.cidr = pool.subnet_cidr
        return pool


def _claimable(state: State, cidr: str, wanted: str | None) -> str:
    """The pool, given but not yet claimed by a network, that ``CreateNetwork`` names by
    ``cidr`` (for the Stratus network ``wanted``, if the driver options name one)."""
    pending = {
        pool_id: pool
        for pool_id, pool in state.pools.items()
        if pool.docker_network is None and pool.cidr == cidr and now() - pool.since < PENDING_TTL
    }
    if wanted:
        tied = [pool_id for pool_id, pool in pending.items() if pool.network_id == wanted]
        if tied:  # alike: any will do
            return min(tied, key=lambda pool_id: pending[pool_id].since)
        free = [pool_id for pool_id, pool in pending.items() if pool.network_id is None]
        if not free and pending:
            others = sorted({str(pool.network_id) for pool in pending.values()})
            raise PluginError(
                f"--opt {OPTION}={wanted} and --ipam-opt {OPTION}={others[0]} name different "
                "networks."
            )
    else:
        free = [pool_id for pool_id, pool in pending.items() if pool.network_id is not None]
        if free and len({pending[pool_id].network_id for pool_id in free}) == 1:
            return min(free, key=lambda pool_id: pending[pool_id].since)
        if not free and pending:
            raise PluginError(f"Say which Stratus network this is: --opt {OPTION}=<network id>.")
    if len(free) == 1:
        return free[0]
    if not free:
        raise PluginError(
            f"Pool {cidr} does not come from this plugin's IPAM driver: create the network "
            "with --ipam-driver set to the same plugin as --driver."
        )
    raise PluginError(
        f"Several networks with pool {cidr} are being created at once; create this one again."
    )


def _cidr(text: str) -> str:
    try:
        return str(ipaddress.IPv4Network(text))
    except ValueError as exc:
        raise PluginError(f"{text!r} is not an IPv4 subnet: {exc}") from None


def _placeholder(taken: set[str]) -> str:
    while True:
        offset = random.randrange(1, PLACEHOLDERS.num_addresses - 1)
        cidr = f"{PLACEHOLDERS.network_address + offset}/32"
        if cidr not in taken:
            return cidr
