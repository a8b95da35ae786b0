"""The message bus the parts of a service talk over: call, cast and fanout on topics.

    bus = connect("memory://")          # in-process; or "amqp://user:pass@host:5672/vhost"
    listener = bus.serve("conductor", Conductor(), host="node1")
    bus.call("conductor", "build", host=None, timeout=60.0, instance_id="...")  # -> result
    bus.cast("compute", "reboot", host="node1", instance_id="...")  # one listener, no reply
    bus.fanout("compute", "refresh")   # every listener of "compute"
    listener.stop(); bus.close()

A listener takes the topic's work (shared round-robin with the topic's other listeners),
with ``host`` also the work sent to that host (``host=`` on call or cast), and every
fanout of the topic. A message runs the endpoint's public method of that name with the
keyword arguments, on the listener's pool of ``pool_size`` threads (8 by default); an
in-process call runs in the caller's thread instead. Arguments and results travel as
JSON on both transports: what JSON cannot carry raises ``BusError`` at the caller, and
tuples arrive as lists. ``host``, ``timeout`` and ``_context`` are the bus's own keywords,
never passed on to the method.

At a caller: a call's method that raises gives ``RemoteError`` (``exc_type``, ``message``,
``remote_traceback``; an unknown or private method gives ``exc_type == "UnknownMethod"``);
nobody listening or no reply within ``timeout`` gives ``BusTimeout``. A cast or fanout
whose method raises is logged with its traceback (logger ``stratus.bus``).

Context: ``_context={...}`` (a JSON-serialisable dict) on call, cast or fanout travels
with the message; the handler reads it with ``current_context()``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from stratus.runtime.bus.base import Bus, Listener
from stratus.runtime.bus.endpoint import current_context
from stratus.runtime.bus.errors import BusError, BusTimeout, RemoteError

__all__ = [
    "Bus",
    "BusError",
    "BusTimeout",
    "Listener",
    "RemoteError",
    "connect",
    "current_context",
]


def connect(url: str) -> Bus:
    """A bus on the transport ``url`` names: ``memory://[name]``, ``amqp://`` or ``rabbit://``."""
    scheme, _, rest = url.partition("://")
    if scheme == "memory":
        from stratus.runtime.bus.memory import MemoryBus

        return MemoryBus(urlsplit(url).netloc)
    if scheme in ("amqp", "rabbit"):
        from stratus.runtime.bus.amqp import AmqpBus

        return AmqpBus(f"amqp://{rest}")
    raise BusError(f"unsupported transport URL {url!r}: use memory:// or amqp://")
