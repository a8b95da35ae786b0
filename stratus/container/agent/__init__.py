"""The container agent part: serves its host's ``container-agent`` topic and reconciles."""

from __future__ import annotations

import logging
import threading

from stratus.container import options  # noqa: F401 - declares the [container] options
from stratus.container.agent.driver import Driver, ImageData
from stratus.container.agent.manager import ContainerAgent
from stratus.container.images import ImageClient
from stratus.container.rpc import AGENT_TOPIC
from stratus.runtime.bus import Listener
from stratus.runtime.parts import WorkerPart
from stratus.runtime.process import Runtime

LOG = logging.getLogger(__name__)


class AgentWorker:
    """Serve the topic and reconcile at start and every ``interval`` seconds."""

    def __init__(self, runtime: Runtime, agent: ContainerAgent, interval: float) -> None:
        self.runtime = runtime
        self.agent = agent
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: Listener | None = None

    def start(self) -> None:
        self._listener = self.runtime.bus.serve(AGENT_TOPIC, self.agent, host=self.agent.host)
        self._thread = threading.Thread(target=self._loop, name="container-agent", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
        if self._listener:
            self._listener.stop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.agent.reconcile()
            except Exception:  # keep reconciling; the next pass may succeed
                LOG.exception("container agent reconciliation failed")
            self._stop.wait(self.interval)


def build_agent(runtime: Runtime, driver: Driver) -> ContainerAgent:
    conf = runtime.conf.container
    images = ImageClient(conf.image_url)
    identity = runtime.identity("container")

    def image_data(image_id: str) -> ImageData:
        return lambda: images.download(image_id, identity.service_token())

    host = runtime.conf.get("DEFAULT", "host")
    return ContainerAgent(runtime.bus, driver, host, conf.availability_zone, image_data)


def build_part(runtime: Runtime) -> WorkerPart:
    from stratus.container.agent.docker import DockerDriver

    driver = DockerDriver(runtime.conf.container.docker_url)
    worker = AgentWorker(
        runtime, build_agent(runtime, driver), runtime.conf.container.report_interval
    )
    return WorkerPart("container-agent", worker.start, worker.stop)
