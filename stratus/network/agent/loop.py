"""What every network agent shares: it reports itself to the server, then makes its host
match the server's desired state (principle 3) -- at start, every ``resync_interval``
seconds, and soon after the server hints that something changed.

One thread per agent does both, so an agent's passes never overlap. Hints that arrive
during a pass are folded into one more pass, and a hinted pass waits ``hint_delay`` for
more hints: one request sets off several (a server's port made, then bound), and its own
work goes on meanwhile without a pass competing for the interpreter. A sync never waits,
nor does an urgent hint (:func:`hint_l2`: ports bound ahead of their plugging, whose pass
should be done by the time the plugging waits for it).
A pass that fails is retried a few seconds later, backing off while it keeps failing;
nothing is reconciled until the server has recorded the agent (its state for an unknown
agent would be empty, and the agent would tear everything down).

On the bus, an agent serves its topic for its host: ``changed(urgent, **ids)`` (a hint:
the server's, by fanout) and ``sync(wait, ports)`` (a call: reconcile now and return when done;
port plugging uses it to return once the port is wired). A sync naming ports is first
tried the quick way (:meth:`Agent.wire_quickly`, on the agent's thread between passes):
a port whose security groups the last pass already put in force only needs its device
checked and its status reported, not a whole pass.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from stratus.network import topics
from stratus.network.agent import options  # noqa: F401 - declares the agents' options
from stratus.runtime.bus import Bus, Listener
from stratus.runtime.config import Config
from stratus.runtime.parts import WorkerPart

LOG = logging.getLogger(__name__)
RETRY_SECONDS = 2.0


class SyncFailed(Exception):
    """The pass a caller waited for failed (the message says why)."""


class Agent(ABC):
    """One kind of network agent: what it reports, and one reconciliation pass."""

    agent_type: ClassVar[str]
    binary: ClassVar[str]
    topic: ClassVar[str]

    def __init__(self, conf: Config, bus: Bus) -> None:
        self.conf = conf
        self.bus = bus
        self.host: str = conf.get("DEFAULT", "host")
        self.state_path: str = conf.network_agent.state_path
        self.prefix: str = conf.network_agent.owner_prefix

    def configurations(self) -> dict[str, Any]:
        return {}

    def wire_quickly(self, port_ids: list[str]) -> bool:
        """Report the ports wired without a pass, if the last pass left nothing else to
        do for them; False (nothing done) when a pass is needed."""
        return False

    def wired(self, port_ids: list[str]) -> dict[str, bool] | None:
        """Whether each port is wired, as the agent last reported it to the server (None:
        this agent does not wire ports)."""
        return None

    @abstractmethod
    def reconcile(self, full: bool) -> None:
        """Make the host match the server's state; ``full`` on periodic passes, which
        also redo what a hinted pass may skip as unchanged."""

    def server(self, method: str, **kwargs: Any) -> Any:
        """Call the network server's agent interface as this host."""
        return self.bus.call(topics.SERVER, method, agent_host=self.host, **kwargs)

    def hint_l2(self) -> None:
        """Tell this host's L2 agent that a device was just attached to a bridge."""
        hint_l2(self.bus, self.host)

    def report(self, start: bool) -> None:
        state = {
            "agent_type": self.agent_type,
            "binary": self.binary,
            "host": self.host,
            "topic": self.topic,
            "availability_zone": self.conf.network_agent.availability_zone,
            "configurations": self.configurations(),
            "start_flag": start,
        }
        if start:
            self.bus.call(topics.SERVER, "report_state", agent=state)
        else:
            self.bus.cast(topics.SERVER, "report_state", agent=state)


def hint_l2(bus: Bus, host: str, *, urgent: bool = False) -> None:
    """Tell the L2 agent of ``host`` that its state changed; ``urgent``: ports were bound
    there ahead of their plugging, pass now (do not wait for more hints)."""
    bus.cast(topics.L2_AGENT, topics.CHANGED, host=host, urgent=urgent)


class Runner:
    """Runs an agent: heartbeats, reconciliation passes, and its bus endpoint."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        conf = agent.conf.network_agent
        self.report_interval = float(conf.report_interval)
        self.resync_interval = float(conf.resync_interval)
        self.hint_delay = float(conf.hint_delay)
        self._cond = threading.Condition()
        self._requested = 0  # passes asked for (hints, sync calls)
        self._done = 0  # the request count the last finished pass covered
        self._hinted_at: float | None = None  # the first hint the next pass covers
        self._urgent = False  # a sync or an urgent hint wants the next pass: no delay
        self._failure: str | None = None  # why the last pass failed
        self._quick: list[_QuickSync] = []  # syncs to try the quick way, oldest first
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._listener: Listener | None = None

    # -- the part's life -------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=self.agent.binary, daemon=True)
        self._thread.start()
        # Every waiting sync holds one of the listener's threads; one pass serves them all.
        self._listener = self.agent.bus.serve(
            self.agent.topic, _Endpoint(self), host=self.agent.host
        )

    def stop(self) -> None:
        """Stop reconciling; what is wired on the host stays as it is."""
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    # -- requests --------------------------------------------------------------------

    def poke(self, urgent: bool = False) -> None:
        """Reconcile soon (a hint); at once if ``urgent``."""
        with self._cond:
            self._requested += 1
            self._urgent |= urgent
            if self._hinted_at is None:
                self._hinted_at = time.monotonic()
            self._cond.notify_all()

    def sync(self, timeout: float, ports: list[str] | None = None) -> dict[str, bool] | None:
        """Reconcile now and wait for that pass; SyncFailed if it failed or timed out.
        With ``ports``, return at once if the agent can wire them without a pass; and
        whether each is wired, as reported to the server (None if the agent cannot say)."""
        if ports:
            started = time.monotonic()
            if self._sync_quickly(ports, timeout):
                return dict.fromkeys(ports, True)
            timeout = max(0.0, timeout - (time.monotonic() - started))
        with self._cond:
            self._requested += 1
            self._urgent = True
            wanted = self._requested
            self._cond.notify_all()
            finished = self._cond.wait_for(
                lambda: self._done >= wanted or self._stopping, timeout=timeout
            )
            if self._stopping:
                raise SyncFailed(f"{self.agent.binary} is stopping")
            if not finished:
                raise SyncFailed(f"{self.agent.binary} did not finish a pass in {timeout:g} s")
            if self._failure is not None:
                raise SyncFailed(self._failure)
        return self.agent.wired(ports) if ports else None

    def _sync_quickly(self, ports: list[str], timeout: float) -> bool:
        request = _QuickSync(ports)
        with self._cond:
            self._quick.append(request)
            self._cond.notify_all()
            self._cond.wait_for(lambda: request.done or self._stopping, timeout=timeout)
            if request in self._quick:  # not taken in time: a pass will do
                self._quick.remove(request)
        return request.wired

    # -- the thread ------------------------------------------------------------------

    def _run(self) -> None:
        registered = False
        failures = 0  # passes failed in a row
        next_report = next_pass = time.monotonic()
        while True:
            with self._cond:
                while not self._stopping:
                    now = time.monotonic()
                    due = min(next_report, next_pass) if registered else next_report
                    hinted = registered and self._requested > self._done
                    if hinted and not self._urgent and self._hinted_at is not None:
                        settled = self._hinted_at + self.hint_delay
                        hinted, due = now >= settled, min(due, settled)
                    if hinted or now >= due or (registered and self._quick):
                        break
                    self._cond.wait(due - now)
                if self._stopping:
                    return
                quick, self._quick = self._quick, []
            if quick:
                self._wire_quickly(quick)
                continue
            if not registered or now >= next_report:
                reported = self._report(start=not registered)
                registered = registered or reported
                next_report = now + (self.report_interval if reported else RETRY_SECONDS)
                if not registered or not (hinted or now >= next_pass):
                    continue
            with self._cond:
                covered, self._hinted_at, self._urgent = self._requested, None, False
            failure = self._pass(full=now >= next_pass)
            failures = 0 if failure is None else failures + 1
            next_pass = time.monotonic() + self._delay(failures)
            with self._cond:
                self._done = covered
                self._failure = failure
                self._cond.notify_all()

    def _delay(self, failures: int) -> float:
        """Until the next pass: the resync interval, or after failures a retry that backs
        off (2, 4, 8 ... seconds, at most the resync interval)."""
        if failures == 0:
            return self.resync_interval
        return min(RETRY_SECONDS * 2 ** (failures - 1), self.resync_interval)

    def _wire_quickly(self, requests: list[_QuickSync]) -> None:
        for request in requests:
            try:
                request.wired = self.agent.wire_quickly(request.ports)
            except Exception:
                LOG.exception("%s: wiring %s quickly failed", self.agent.binary, request.ports)
        with self._cond:
            for request in requests:
                request.done = True
            self._cond.notify_all()

    def _report(self, start: bool) -> bool:
        try:
            self.agent.report(start)
        except Exception as e:
            LOG.warning("%s cannot report to the network server: %s", self.agent.binary, e)
            return False
        return True

    def _pass(self, full: bool) -> str | None:
        started = time.monotonic()
        try:
            self.agent.reconcile(full)
        except Exception as e:
            LOG.exception("%s: reconciliation failed", self.agent.binary)
            return f"{self.agent.binary} failed to reconcile: {e}"
        LOG.debug("%s reconciled in %.3f s", self.agent.binary, time.monotonic() - started)
        return None


class _QuickSync:
    """A sync naming ports, waiting to be tried the quick way."""

    def __init__(self, ports: list[str]) -> None:
        self.ports = ports
        self.done = False
        self.wired = False


class _Endpoint:
    """What an agent serves on its topic."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    def changed(self, urgent: bool = False, **ids: Any) -> None:
        self._runner.poke(urgent)

    def sync(self, wait: float = 30.0, ports: list[str] | None = None) -> dict[str, bool] | None:
        return self._runner.sync(wait, ports)


def part(name: str, agent: Agent) -> WorkerPart:
    runner = Runner(agent)
    return WorkerPart(name, runner.start, runner.stop)
