"""Alembic environment of the container service."""

from stratus.container.models import Base
from stratus.runtime.migrations import run_env

run_env(Base.metadata)
