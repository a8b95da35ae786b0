"""Alembic environment of the image service."""

from stratus.image.models import Base
from stratus.runtime.migrations import run_env

run_env(Base.metadata)
