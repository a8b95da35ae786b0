"""``stratus demo``, the scenario the project exists for, on a cloud started as ``make run``
starts it: a VM and containers on one tenant network ping each other both ways, and the
demo leaves nothing behind."""

from __future__ import annotations

import re

import pytest

from stratus.testing.cloud import Cloud
from tests.e2e.test_compute import domains_of

pytestmark = pytest.mark.e2e


def test_stratus_demo_pings_both_ways_and_cleans_up(cloud: Cloud) -> None:
    result = cloud.stratus("demo", "--clouds-yaml", str(cloud.clouds_yaml), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    results = dict(re.findall(r"^\s+(\S+ -> \S+)\s+(\d+/\d+) replies$", result.stdout, re.M))
    kinds = {tuple(name.split("-")[0] for name in pair.split(" -> ")) for pair in results}
    assert kinds == {("con1", "vm1"), ("pinger", "vm1"), ("vm1", "con1")}, result.stdout
    assert all(got == sent for got, sent in (r.split("/") for r in results.values())), results
    # Every command the demo ran is shown as a user would type it.
    assert "$ openstack --os-cloud stratus-demo appcontainer exec" in result.stdout

    demo_networks = cloud.openstack("network", "list", "-f", "json", cloud="stratus-demo")
    assert not [n for n in demo_networks if n["Name"].startswith("demo-net-")]
    assert cloud.openstack("appcontainer", "list", "-f", "json", cloud="stratus-demo") == []
    assert domains_of(cloud.host) == []
