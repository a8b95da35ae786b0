"""Alembic environment of the compute service."""

from stratus.compute.models import Base
from stratus.runtime.migrations import run_env

run_env(Base.metadata)
