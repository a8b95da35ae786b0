"""The runner can build the container service's parts (nothing is contacted at build)."""

from __future__ import annotations

from stratus.runtime import parts
from stratus.runtime.process import Runtime


def test_container_parts_build(runtime: Runtime) -> None:
    parts.load_options()  # as the runner does: [container] options refer to others
    service = parts.SERVICES["container"]
    assert (service.catalog_name, service.url_path) == ("zun", "/v1")
    api = parts.build("container-api", runtime)
    assert isinstance(api, parts.ApiPart) and api.port == 9517
    agent = parts.build("container-agent", runtime)
    assert isinstance(agent, parts.WorkerPart) and agent.name == "container-agent"
    plugin = parts.build("container-netplugin", runtime)
    assert isinstance(plugin, parts.WorkerPart) and plugin.name == "container-netplugin"
    proxy = parts.build("container-wsproxy", runtime)
    assert isinstance(proxy, parts.WorkerPart) and proxy.name == "container-wsproxy"
    assert service.parts[-1] == "container-wsproxy"
