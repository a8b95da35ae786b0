"""Port plugging: how compute (a VM's tap) and containers (a veth) attach a device to a
port on this host -- one interface for both kinds of device.

``plug`` makes the device if it is missing (a veth's peer gets the port's MAC and the
network's MTU), binds the port to this host through the network API (``PUT
/v2.0/ports/<id>`` with ``binding:host_id``, as the calling service), reads the bridge
from ``binding:vif_details.bridge_name``, makes sure the bridge exists, attaches the
device, and asks this host's L2 agent to reconcile at once: when it returns, the port's
security groups are in force and the port is ACTIVE (unless ``wait`` is None: then the
agent is only hinted). Start the instance only once ``plug`` has returned -- or split
it: ``make`` (only the device, which a hypervisor may need to find at start), start the
instance paused, meanwhile ``attach`` (device, binding, bridge) and ``wait_wired`` (one
L2 agent pass for any number of ports, or none when the agent's last pass already put
their security groups in force), then let it run. A port
already bound here with the wanted device id and owner is not bound again, and a caller
that holds the port (``port=``) or its network's MTU (``mtu=``) spares reading them.
``unplug`` removes the device and, unless told not to, unbinds the port. Both are
idempotent.

The device in the bridge is always ``tap`` + the first 11 characters of the port id
(:func:`device_name`), so that the L2 agent knows whose it is.

A VM's tap (the hypervisor is given an existing tap, e.g. libvirt
``<interface type='ethernet'><target dev='tapXXXXXXXXXXX' managed='no'/>``)::

    plugging = Plugging(network_api, runtime.bus, runtime.conf)
    plugged = plugging.plug(port_id, Tap(device_name(port_id)),
                            device_id=instance_uuid, device_owner="compute:nova")
    plugged.port["mac_address"], plugged.mtu       # for the domain's NIC
    ...
    plugging.unplug(port_id, Tap(device_name(port_id)))

A container's veth (the peer, carrying the port's MAC and MTU, is left on the host for
Docker to move into the container; or moved into ``namespace`` when given)::

    veth = Veth(device_name(port_id), peer_name(port_id))
    plugged = plugging.plug(port_id, veth, device_id=container_uuid,
                            device_owner="compute:nova")
    ...
    plugging.unplug(port_id, veth)

``network_api`` is anything with ``request(method, path, **httpx_kwargs) ->
httpx.Response`` that calls the network API as the calling service (with its service
token); the compute service's ``ServiceClient(identity, "network", region)`` is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from stratus.host.errors import HostError
from stratus.host.netlink import Netlink
from stratus.network import topics
from stratus.network.agent import devices, options  # noqa: F401 - options declares options
from stratus.network.agent.loop import hint_l2
from stratus.network.agent.owned import L2, Owned
from stratus.runtime.bus import Bus, BusError
from stratus.runtime.config import Config

PEER_PREFIX = "vif"
_ID_CHARS = 11


class NetworkApi(Protocol):
    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response: ...


@dataclass(frozen=True)
class Tap:
    """A tap device (made persistent here when missing) for a VM."""

    name: str


@dataclass(frozen=True)
class Veth:
    """A veth pair: ``name`` goes into the bridge, ``peer`` is the container's end, moved
    into ``namespace`` when given (a named network namespace)."""

    name: str
    peer: str
    namespace: str | None = None


Device = Tap | Veth


@dataclass(frozen=True)
class Plugged:
    port: dict[str, Any]  # the port as the network API shows it after binding
    bridge: str
    mtu: int | None
    active: bool  # the L2 agent reported it wired (False when not waited for)


class PlugError(Exception):
    """The port cannot be plugged here; the message says why."""


def device_name(port_id: str) -> str:
    """The name the port's device in the bridge must have."""
    return devices.port_device(port_id)


def peer_name(port_id: str) -> str:
    """A name for the container end of a port's veth."""
    return PEER_PREFIX + port_id[:_ID_CHARS]


class Plugging:
    def __init__(self, api: NetworkApi, bus: Bus, conf: Config) -> None:
        self.api = api
        self.bus = bus
        self.host: str = conf.get("DEFAULT", "host")
        self.bridge_records = Owned(conf.network_agent.state_path, L2)

    def plug(
        self,
        port_id: str,
        device: Device,
        *,
        device_id: str | None = None,
        device_owner: str | None = None,
        wait: float | None = 30.0,
        port: dict[str, Any] | None = None,
        mtu: int | None = None,
    ) -> Plugged:
        """Bind the port here and attach ``device`` to its network's bridge; with ``wait``,
        return once the L2 agent has had a pass at it (``active`` says whether it could
        wire it; PlugError if no pass finished in time). A device this call made is
        removed again when the port cannot be bound or attached.

        ``port`` (the port as the caller last read it) and ``mtu`` (its network's) spare
        reading them again; the port is not bound again when it already is bound here
        with the wanted device id and owner."""
        plugged = self.attach(
            port_id, device, device_id=device_id, device_owner=device_owner, port=port, mtu=mtu
        )
        if wait is None:
            hint_l2(self.bus, self.host)
            return plugged
        return self.wait_wired([plugged], wait)[0]

    def attach(
        self,
        port_id: str,
        device: Device,
        *,
        device_id: str | None = None,
        device_owner: str | None = None,
        port: dict[str, Any] | None = None,
        mtu: int | None = None,
    ) -> Plugged:
        """The first half of :meth:`plug`: the device made, the port bound here and the
        device in the bridge, but the L2 agent neither waited for nor hinted -- the
        port's security groups are not in force yet: let no traffic from the device flow
        (a domain started paused) until :meth:`wait_wired` has returned."""
        if device.name != device_name(port_id):
            raise PlugError(f"the device of port {port_id} must be named {device_name(port_id)}")
        if port is None:
            port = self._port("GET", port_id)
        if mtu is None:
            mtu = self._network(port["network_id"]).get("mtu") or None
        # The device is made before the port is bound, so that the L2 agent's pass that
        # the binding sets off most likely finds it already in the bridge.
        try:
            session = Netlink()  # one netlink session for it all
        except HostError as e:
            raise PlugError(f"cannot make the device of port {port_id}: {e}") from e
        with session as host:
            try:
                made = self._make(host, device, port["mac_address"], mtu)
            except HostError as e:
                raise PlugError(f"cannot make the device of port {port_id}: {e}") from e
            try:
                port, bridge = self._bind_and_attach(host, port, device, device_id, device_owner)
            except PlugError:
                if made:
                    host.delete_link(device.name)
                raise
        return Plugged(port, bridge, mtu, active=False)

    def make(self, device: Device, mac: str, mtu: int | None) -> bool:
        """Only the device, out of any bridge (e.g. a tap that QEMU must find when the
        domain starts, before :meth:`attach`); True when made here, False when it existed."""
        try:
            with Netlink() as host:
                return self._make(host, device, mac, mtu)
        except HostError as e:
            raise PlugError(f"cannot make device {device.name}: {e}") from e

    def wait_wired(self, plugged: list[Plugged], wait: float = 30.0) -> list[Plugged]:
        """The second half of :meth:`plug`, for ports :meth:`attach` attached: one pass
        of this host's L2 agent, waited for (PlugError if none finished in time), or none
        when its last pass already put their security groups in force; when this
        returns, they are in force."""
        if not plugged:
            return []
        ids = [p.port["id"] for p in plugged]
        try:
            reported = self.bus.call(
                topics.L2_AGENT, "sync", host=self.host, timeout=wait + 5, wait=wait, ports=ids
            )
        except BusError as e:
            raise PlugError(
                f"the L2 agent of {self.host} did not wire port {', '.join(ids)}: {e}"
            ) from e
        reported = reported if isinstance(reported, dict) else {}
        wired = []
        for p in plugged:
            if p.port["id"] in reported:  # the status the agent gave the server
                active = bool(reported[p.port["id"]])
                port = {**p.port, "status": "ACTIVE" if active else "DOWN"}
            else:  # an agent that does not say: ask the server
                port = self._port("GET", p.port["id"])
            wired.append(Plugged(port, p.bridge, p.mtu, active=port["status"] == "ACTIVE"))
        return wired

    def _bind_and_attach(
        self,
        host: Netlink,
        port: dict[str, Any],
        device: Device,
        device_id: str | None,
        device_owner: str | None,
    ) -> tuple[dict[str, Any], str]:
        port_id = port["id"]
        binding: dict[str, Any] = {"binding:host_id": self.host}
        if device_id is not None:
            binding["device_id"] = device_id
        if device_owner is not None:
            binding["device_owner"] = device_owner
        bound = port.get("binding:vif_type") == "bridge" and (
            port.get("binding:vif_details") or {}
        ).get("bridge_name")
        if not bound or any(port.get(k) != v for k, v in binding.items()):
            port = self._port("PUT", port_id, json={"port": binding})
        if port.get("binding:vif_type") != "bridge":
            raise PlugError(
                f"port {port_id} cannot be bound to host {self.host} "
                f"(binding:vif_type {port.get('binding:vif_type')}): is its L2 agent running?"
            )
        bridge = port["binding:vif_details"]["bridge_name"]
        try:
            devices.ensure_bridge(host, self.bridge_records, port["network_id"])
            host.attach(device.name, bridge)
        except HostError as e:
            raise PlugError(f"cannot attach port {port_id} to {bridge}: {e}") from e
        return port, bridge

    def unplug(self, port_id: str, device: Device, *, unbind: bool = True) -> None:
        """Remove the device (a veth with its peer) and unbind the port, if it still
        exists; the L2 agent is told by the server, or hinted here when not unbinding."""
        try:
            with Netlink() as host:
                host.delete_link(device.name)
        except HostError as e:
            raise PlugError(f"cannot unplug port {port_id}: {e}") from e
        if not unbind:
            hint_l2(self.bus, self.host)
            return
        body = {"port": {"binding:host_id": "", "device_id": "", "device_owner": ""}}
        response = self.api.request("PUT", f"/v2.0/ports/{port_id}", json=body)
        if response.status_code not in (200, 404):
            raise PlugError(f"cannot unbind port {port_id}: {_message(response)}")

    @staticmethod
    def _make(host: Netlink, device: Device, mac: str, mtu: int | None) -> bool:
        """The device, out of any bridge: a tap, or a veth whose peer has the port's MAC.
        An existing device is left as it is (a container may hold the peer by now);
        True when it was made here."""
        if host.index(device.name) is not None:
            return False
        if isinstance(device, Tap):
            host.ensure_tap(device.name, mtu=mtu)
        else:
            devices.wire_veth(
                host,
                None,
                device.name,
                device.peer,
                namespace=device.namespace,
                mac=mac,
                mtu=mtu,
            )
        return True

    def _port(self, method: str, port_id: str, **kwargs: Any) -> dict[str, Any]:
        response = self.api.request(method, f"/v2.0/ports/{port_id}", **kwargs)
        if response.status_code != 200:
            raise PlugError(f"port {port_id}: {_message(response)}")
        return response.json()["port"]

    def _network(self, network_id: str) -> dict[str, Any]:
        response = self.api.request("GET", f"/v2.0/networks/{network_id}")
        if response.status_code != 200:
            raise PlugError(f"network {network_id}: {_message(response)}")
        return response.json()["network"]


def _message(response: httpx.Response) -> str:
    try:
        return response.json()["NeutronError"]["message"]
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} {response.text[:200]}"
