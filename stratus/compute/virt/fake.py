"""The fake driver: many simulated hosts in one process, for tests and scale benchmarks.

Hosts are ``[DEFAULT] host`` when ``[fake_driver] host_count`` is 1, else ``<host>-0``
... ``<host>-<count-1>``. Servers are entries in memory; nothing touches the machine.
Tests can make builds (``fail_spawn_on``) and interface attaches (``fail_attach_on``)
fail on chosen hosts. A server's serial console, once asked for, is a TCP listener on
loopback that greets with the console's last line and echoes what it is sent; its NICs
are port ids in a list.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stratus.compute import states
from stratus.compute.virt.driver import (
    ConsoleUnavailable,
    Instance,
    NetworkInfo,
    VirtDriver,
    VirtError,
)
from stratus.runtime.config import Config


class FakeSerial:
    """A simulated serial port: greets each connection with ``banner``, then echoes."""

    def __init__(self, banner: str) -> None:
        self.banner = banner
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, name="fake-serial", daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(self.banner.encode() + b"\r\n")
                while data := conn.recv(4096):
                    conn.sendall(data)
            except OSError:
                pass

    def close(self) -> None:
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        self._listener.close()


@dataclass
class FakeDomain:
    power_state: int
    flavor: dict[str, Any]
    console: list[str] = field(default_factory=list)
    interfaces: list[str] = field(default_factory=list)  # port ids
    serial: FakeSerial | None = None

    def close(self) -> None:
        if self.serial is not None:
            self.serial.close()


class FakeDriver(VirtDriver):
    def __init__(self, conf: Config) -> None:
        section = conf.fake_driver
        base = conf.get("DEFAULT", "host")
        count = section.host_count
        self._hosts = [base] if count == 1 else [f"{base}-{n}" for n in range(count)]
        self._size = {
            "vcpus": section.vcpus,
            "memory_mb": section.memory_mb,
            "local_gb": section.local_gb,
        }
        self.boot_delay = section.boot_delay
        self.fail_spawn_on: set[str] = set()
        self.fail_attach_on: set[str] = set()
        self._lock = threading.Lock()
        self._domains: dict[str, dict[str, FakeDomain]] = {host: {} for host in self._hosts}

    def hosts(self) -> list[str]:
        return list(self._hosts)

    def nodes(self, host: str) -> list[dict[str, Any]]:
        return [
            {
                "hypervisor_hostname": host,
                "hypervisor_type": "fake",
                "hypervisor_version": 1000,
                "host_ip": "127.0.0.1",
                **self._size,
                "cpu_info": {"arch": "x86_64", "model": "fake", "vendor": "stratus"},
                "capabilities": {
                    "hypervisor_type": "fake",
                    "hypervisor_version": 1000,
                    "supported_instances": [["x86_64", "fake", "hvm"]],
                },
            }
        ]

    def list_instances(self, host: str) -> dict[str, int]:
        with self._lock:
            return {uuid: d.power_state for uuid, d in self._domains.get(host, {}).items()}

    def spawn(
        self,
        instance: Instance,
        network_info: NetworkInfo,
        ports: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        host = instance["host"]
        if self.boot_delay:
            time.sleep(self.boot_delay)
        if host in self.fail_spawn_on:
            raise VirtError(f"simulated failure to build on {host}")
        console = [f"{instance['hostname']} login: (fake console of {instance['name']})"]
        ports = [vif["port_id"] for vif in network_info]
        self._put(instance, FakeDomain(states.RUNNING, instance["flavor"], console, ports))

    def _put(self, instance: Instance, domain: FakeDomain) -> None:
        with self._lock:
            old = self._domains[instance["host"]].get(instance["uuid"])
            self._domains[instance["host"]][instance["uuid"]] = domain
        if old is not None:
            old.close()

    def destroy(self, instance: Instance) -> None:
        with self._lock:
            domain = self._domains.get(instance["host"], {}).pop(instance["uuid"], None)
        if domain is not None:
            domain.close()

    def _set(self, instance: Instance, allowed: tuple[int, ...], power_state: int) -> None:
        domain = self._domain(instance)
        if domain.power_state not in allowed:
            name = states.POWER_STATE_NAMES.get(domain.power_state, domain.power_state)
            raise VirtError(f"domain {instance['name']} is {name}")
        domain.power_state = power_state

    def _domain(self, instance: Instance) -> FakeDomain:
        domain = self._domains.get(instance["host"], {}).get(instance["uuid"])
        if domain is None:
            raise VirtError(f"no domain {instance['name']} on {instance['host']}")
        return domain

    def power_off(self, instance: Instance) -> None:
        self._set(instance, (states.RUNNING, states.SHUTDOWN, states.POWER_PAUSED), states.SHUTDOWN)

    def power_on(self, instance: Instance) -> None:
        self._set(instance, (states.SHUTDOWN, states.RUNNING, states.CRASHED), states.RUNNING)

    def reboot(self, instance: Instance, hard: bool) -> None:
        """A hard reboot makes the domain anew (also one that went missing)."""
        if hard:
            self.spawn(instance, instance.get("network_info") or [])
        else:
            self._set(instance, (states.RUNNING,), states.RUNNING)

    def pause(self, instance: Instance) -> None:
        self._set(instance, (states.RUNNING,), states.POWER_PAUSED)

    def unpause(self, instance: Instance) -> None:
        self._set(instance, (states.POWER_PAUSED,), states.RUNNING)

    def suspend(self, instance: Instance) -> None:
        self._set(instance, (states.RUNNING,), states.POWER_SUSPENDED)

    def resume(self, instance: Instance) -> None:
        self._set(instance, (states.POWER_SUSPENDED,), states.RUNNING)

    def power_state(self, instance: Instance) -> int:
        domain = self._domains.get(instance["host"] or "", {}).get(instance["uuid"])
        return states.NOSTATE if domain is None else domain.power_state

    def migrate_disk_and_power_off(self, instance: Instance, dest_host: str) -> None:
        self._set(instance, tuple(states.POWER_STATE_NAMES), states.SHUTDOWN)

    def finish_migration(
        self, instance: Instance, network_info: NetworkInfo, power_on: bool
    ) -> None:
        power = states.RUNNING if power_on else states.SHUTDOWN
        ports = [vif["port_id"] for vif in network_info]
        self._put(instance, FakeDomain(power, instance["flavor"], interfaces=ports))

    def confirm_migration(self, instance: Instance, source_host: str) -> None:
        if source_host != instance["host"]:
            self.destroy({**instance, "host": source_host})

    def revert_migration(self, instance: Instance, source_host: str) -> None:
        if source_host != instance["host"]:
            self.destroy(instance)

    def finish_revert_migration(
        self, instance: Instance, network_info: NetworkInfo, power_on: bool
    ) -> None:
        self.finish_migration(instance, network_info, power_on)

    def snapshot(self, instance: Instance, upload: Callable[[Path], None]) -> None:
        self._domain(instance)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "snapshot"
            path.write_bytes(f"fake snapshot of {instance['uuid']}\n".encode())
            upload(path)

    def get_console_output(self, instance: Instance) -> str:
        return "\n".join(self._domain(instance).console) + "\n"

    def get_serial_console(self, instance: Instance) -> dict[str, Any]:
        domain = self._domain(instance)
        if domain.power_state != states.RUNNING:
            raise ConsoleUnavailable(f"domain {instance['name']} is not running")
        with self._lock:
            if domain.serial is None:
                domain.serial = FakeSerial(domain.console[-1] if domain.console else "")
            return {"host": "127.0.0.1", "port": domain.serial.port}

    def attach_interface(self, instance: Instance, vif: dict[str, Any]) -> None:
        domain = self._domain(instance)
        if instance["host"] in self.fail_attach_on:
            raise VirtError(f"simulated failure to attach an interface on {instance['host']}")
        if vif["port_id"] not in domain.interfaces:
            domain.interfaces.append(vif["port_id"])

    def detach_interface(self, instance: Instance, vif: dict[str, Any]) -> None:
        domain = self._domains.get(instance["host"], {}).get(instance["uuid"])
        if domain is not None and vif["port_id"] in domain.interfaces:
            domain.interfaces.remove(vif["port_id"])
