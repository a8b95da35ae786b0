"""Container request rules: memory sizes, names, restart policies."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stratus.container.schemas import ContainerCreate, memory_mb


@pytest.mark.parametrize(
    ("given", "mb"),
    [(512, 512), ("512", 512), ("512M", 512), ("1g", 1024), ("6291456b", 6), ("8192K", 8)],
)
def test_memory_units(given: str | int, mb: int) -> None:
    assert memory_mb(given) == mb


@pytest.mark.parametrize("given", ["5", "5M", "6000k", "1T", "lots", "-6", "1.5G"])
def test_memory_below_docker_minimum_or_malformed(given: str) -> None:
    with pytest.raises(ValueError, match="memory"):
        memory_mb(given)


def test_restart_policy_count_from_the_cli_string() -> None:
    body = ContainerCreate.model_validate(
        {"image": "i", "restart_policy": {"Name": "on-failure", "MaximumRetryCount": "3"}}
    )
    assert body.restart_policy is not None
    assert body.restart_policy.model_dump() == {"Name": "on-failure", "MaximumRetryCount": 3}


def test_what_the_cli_sends_empty_is_accepted() -> None:
    body = ContainerCreate.model_validate(
        {"image": "i", "nets": [], "mounts": [], "hints": {}, "labels": {}, "environment": {}}
    )
    assert body.nets == [] and body.mounts == []


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        ContainerCreate.model_validate({"image": "i", "volumes": []})
