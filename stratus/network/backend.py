"""What the API handlers and the RPC endpoint share: config, database, ML2, the
notifier that hints agents of changes and the events told to the compute service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.orm import Session

from stratus.network import retry
from stratus.network.compute_events import ComputeEvents
from stratus.network.ml2.manager import Ml2
from stratus.network.notifier import Notifier
from stratus.runtime.config import Config
from stratus.runtime.db import Database

T = TypeVar("T")


@dataclass
class Backend:
    conf: Config
    db: Database
    ml2: Ml2
    notifier: Notifier
    compute_events: ComputeEvents = field(default_factory=ComputeEvents)

    def transaction(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a transaction, again if it lost a race (see retry)."""
        return retry.transaction(self.db, work)

    @property
    def agent_down_time(self) -> int:
        return self.conf.network.agent_down_time
