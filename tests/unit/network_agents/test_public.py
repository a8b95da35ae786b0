"""The default external network that bootstrap records."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from stratus.network import models, public
from stratus.runtime.config import Config
from stratus.runtime.process import Runtime


def _runtime(tmp_path: Path, extra: str = "") -> Runtime:
    path = tmp_path / "stratus.conf"
    path.write_text(f"[DEFAULT]\ndata_dir = {tmp_path}\n{extra}")
    return Runtime(Config(path))


def test_public_network_is_flat_external_with_the_host_as_gateway(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    try:
        network_id = public.ensure_public_network(runtime, "admin-project")
        assert public.ensure_public_network(runtime, "admin-project") == network_id
        with runtime.database("network").session() as session:
            network = session.get_one(models.Network, network_id)
            (segment,) = network.segments
            (subnet,) = network.subnets
            count = session.scalar(sa.select(sa.func.count()).select_from(models.Network))
            assert (network.name, network.external, network.project_id) == (
                "public",
                True,
                "admin-project",
            )
            assert (segment.network_type, segment.physical_network) == ("flat", "public")
            assert (subnet.cidr, subnet.gateway_ip, subnet.enable_dhcp) == (
                "172.24.4.0/24",
                "172.24.4.1",
                False,
            )
            assert count == 1
        assert public.gateway(runtime.conf) == "172.24.4.1/24"
    finally:
        runtime.close()


def test_no_public_network_without_a_cidr(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, "[network]\npublic_cidr =\n")
    try:
        assert public.ensure_public_network(runtime, "admin-project") is None
    finally:
        runtime.close()
