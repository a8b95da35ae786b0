"""A network backend on a fresh database: SQLite always, PostgreSQL and MariaDB on
loopback when they run (a private database per test, dropped afterwards)."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.network import ipam, models, ports
from stratus.network.api import make_backend
from stratus.network.backend import Backend
from stratus.runtime import migrations
from stratus.runtime.config import Config
from stratus.runtime.db import new_id
from stratus.runtime.process import Runtime

SERVERS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1",
    "mariadb": "mysql+pymysql://root@127.0.0.1",
}
ML2_CONFIG = """
[ml2_type_flat]
flat_networks = physnet1,public
[ml2_type_vlan]
network_vlan_ranges = physnet1:100:102,physnet2
[ml2_type_vxlan]
vni_ranges = 1:3
"""


def _server_database(kind: str) -> Iterator[str]:
    name = f"stratus_net_{uuid.uuid4().hex[:12]}"
    admin_db = "postgres" if kind == "postgresql" else ""
    try:
        engine = sa.create_engine(f"{SERVERS[kind]}/{admin_db}", isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sa.text(f"CREATE DATABASE {name}"))
    except sa.exc.OperationalError:
        pytest.skip(f"{kind} is not running on loopback")
    try:
        yield f"{SERVERS[kind]}/{name}"
    finally:
        with engine.connect() as connection:
            if kind == "postgresql":
                connection.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
            else:
                connection.execute(sa.text(f"DROP DATABASE {name}"))
        engine.dispose()


def write_config(root: Path, database_url: str = "", extra: str = "") -> Config:
    path = root / "stratus.conf"
    database = f"[database]\nconnection = {database_url}\n" if database_url else ""
    path.write_text(f"[DEFAULT]\ndata_dir = {root / 'data'}\n{database}{ML2_CONFIG}{extra}")
    return Config(path)


def make(root: Path, database_url: str = "", extra: str = "") -> Iterator[Backend]:
    root.mkdir(parents=True, exist_ok=True)
    runtime = Runtime(write_config(root, database_url, extra))
    migrations.upgrade("network", runtime.database("network"))
    yield make_backend(runtime)
    runtime.close()


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    """A backend on SQLite."""
    yield from make(tmp_path)


@pytest.fixture
def backend_with(tmp_path: Path) -> Iterator[Callable[[str], Backend]]:
    """Build a backend on SQLite whose config has extra lines."""
    made: list[Iterator[Backend]] = []

    def build(extra: str) -> Backend:
        made.append(make(tmp_path / str(len(made)), extra=extra))
        return next(made[-1])

    yield build
    for generator in made:
        next(generator, None)


@pytest.fixture
def config_with(tmp_path: Path) -> Callable[[str], Config]:
    return lambda extra: write_config(tmp_path, extra=extra)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def any_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A backend on each database this host runs."""
    if request.param == "sqlite":
        yield from make(tmp_path)
        return
    for url in _server_database(request.param):
        yield from make(tmp_path, url)


class Factory:
    """Rows made the way the API makes them, for tests below the API."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def network(self, session: Session, project: str = "p1", **provider: Any) -> models.Network:
        network = models.Network(id=new_id(), project_id=project, name="net", mtu=0)
        session.add(network)
        session.flush()
        segment = self.backend.ml2.create_segment(session, network.id, **provider)
        network.mtu = self.backend.ml2.mtu(segment)
        session.flush()
        session.refresh(network)
        return network

    def subnet(
        self, session: Session, network: models.Network, cidr: str, **attrs: Any
    ) -> models.Subnet:
        net = ipaddress.ip_network(cidr)
        gateway = attrs.pop("gateway_ip", str(net[1]))
        pools = ipam.default_pools(net, ipaddress.ip_address(gateway) if gateway else None)
        subnet = models.Subnet(
            id=new_id(),
            project_id=network.project_id,
            ip_version=net.version,
            cidr=cidr,
            gateway_ip=gateway,
            allocation_pools=attrs.pop("allocation_pools", pools),
            **attrs,
        )
        subnet.network = network
        session.add(subnet)
        session.flush()
        return subnet

    def port(self, session: Session, network: models.Network, **spec: Any) -> models.Port:
        return ports.create(
            session, self.backend, network, ports.PortSpec(project_id=network.project_id, **spec)
        )


@pytest.fixture
def factory(backend: Backend) -> Factory:
    return Factory(backend)


@pytest.fixture
def any_factory(any_backend: Backend) -> Factory:
    return Factory(any_backend)
