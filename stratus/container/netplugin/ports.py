"""The ports behind Docker's addresses, and their veths.

An address Docker asks for is a port's fixed IP. When it names one that a port on the
network already holds, that port must be one the container API reserved for a container
(device owner ``compute:kuryr``, bound to no other host): the plugin uses it, and only
ever unplugs and unbinds it. Otherwise the plugin makes a port (a plain Docker user's
container), owned by the network's project so that its default security group applies as
it does to a VM's port, and deletes it again with its endpoint.

A port the plugin makes carries the device owner ``kuryr:container`` and, until it is
plugged, the device id :attr:`Ports.marker` (the plugin and host), so that a plugin that
died between making a port and recording it finds it at its next start.

Wiring goes through port plugging, as a VM's tap does: the host end of a veth
(``tap`` + port id) in the network's bridge, the peer (``vif`` + port id, with the port's
MAC and the network's MTU) left on the host for Docker to move into the container.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from stratus.container.netplugin.errors import PluginError
from stratus.container.netplugin.state import Pool
from stratus.network.plugging import PlugError, Plugged, Plugging, Veth, device_name, peer_name
from stratus.runtime.clients.network import NetworkApi, NetworkError

CREATED_OWNER = "kuryr:container"  # a port the plugin made
RESERVED_OWNER = "compute:kuryr"  # a port the container API made for a container
PLUG_WAIT = 20.0  # seconds for the L2 agent's pass: Docker gives up on a call after 30


def veth(port_id: str) -> Veth:
    return Veth(device_name(port_id), peer_name(port_id))


class Ports:
    def __init__(self, api: NetworkApi, plugging: Plugging, host: str, plugin_name: str) -> None:
        self.api = api
        self.plugging = plugging
        self.host = host
        self.marker = f"{plugin_name}@{host}"

    def reserve(self, pool: Pool, ip: str | None) -> tuple[dict[str, Any], bool]:
        """The port for an address of ``pool``'s subnet (``ip``, or any free one), and
        whether the plugin made it."""
        assert pool.network_id and pool.subnet_id
        if ip is not None:
            held = self.api.list_ports(
                None, network_id=pool.network_id, fixed_ips=f"ip_address={ip}"
            )
            if held:
                return self._reserved(held[0], ip), False
        fixed: dict[str, str] = {"subnet_id": pool.subnet_id}
        if ip is not None:
            fixed["ip_address"] = ip
        fields: dict[str, Any] = {
            "network_id": pool.network_id,
            "fixed_ips": [fixed],
            "device_owner": CREATED_OWNER,
            "device_id": self.marker,
        }
        if pool.project_id:
            fields["project_id"] = pool.project_id
        try:
            return self.api.new_port(fields), True
        except NetworkError as exc:
            raise PluginError(str(exc)) from None

    def _reserved(self, port: dict[str, Any], ip: str) -> dict[str, Any]:
        host = port.get("binding:host_id") or ""
        if port["device_owner"] != RESERVED_OWNER or host not in ("", self.host):
            owner = f" (bound to host {host})" if host else f" ({port['device_owner'] or 'free'})"
            raise PluginError(f"Address {ip} is held by port {port['id']}{owner}.")
        return port

    def plug(self, port: dict[str, Any], created: bool, endpoint_id: str) -> Plugged:
        """Bind the port (as just read) here and wire its veth (the port is ACTIVE when
        this returns); on failure nothing of it is left plugged."""
        port_id = port["id"]
        owner = {"device_id": endpoint_id, "device_owner": CREATED_OWNER} if created else {}
        try:
            return self.plugging.plug(port_id, veth(port_id), wait=PLUG_WAIT, port=port, **owner)
        except PlugError as exc:
            with suppress(PluginError):  # the plug error says more
                self.unplug(port_id, created=False)
            raise PluginError(str(exc)) from None

    def unplug(self, port_id: str, created: bool) -> None:
        """Remove the port's veth; delete the port if the plugin made it, else unbind it
        from this host (its device id and owner stay the container API's)."""
        try:
            self.plugging.unplug(port_id, veth(port_id), unbind=False)
            if created:
                self.api.delete_port(port_id)
            else:
                self.api.update_port(port_id, {"binding:host_id": ""}, what="unbind")
        except PlugError as exc:
            raise PluginError(str(exc)) from None
        except NetworkError as exc:
            if exc.status != 404:
                raise PluginError(str(exc)) from None

    def release(self, port_id: str, created: bool) -> None:
        """An address Docker gives back: the port goes if the plugin made it."""
        if created:
            try:
                self.api.delete_port(port_id)
            except NetworkError as exc:
                raise PluginError(str(exc)) from None

    def unrecorded(self, known: set[str]) -> list[str]:
        """Ports this plugin made but never plugged that are not among ``known``."""
        made = self.api.list_ports(None, device_owner=CREATED_OWNER, device_id=self.marker)
        return [p["id"] for p in made if p["id"] not in known]
