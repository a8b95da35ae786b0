"""Alembic environment of the network service."""

from stratus.network.models import Base
from stratus.runtime.migrations import run_env

run_env(Base.metadata)
