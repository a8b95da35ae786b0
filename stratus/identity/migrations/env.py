"""Alembic environment of the identity service."""

from stratus.identity.models import Base
from stratus.runtime.migrations import run_env

run_env(Base.metadata)
