"""The SOAP stand-ins, started once for the soap plugin tests, and contexts that point at them."""

from __future__ import annotations

import pytest

from runtime.plugin import PluginContext
from sandbox.runner import Sandbox, load_catalog
from sandbox.soap.pki import ensure_sandbox_pki
from soap_helpers import ROOT, SOAP_SYSTEMS


@pytest.fixture(scope="session")
def soap_sandbox():
    ensure_sandbox_pki(ROOT)
    with Sandbox(ROOT, names=SOAP_SYSTEMS, free_ports=True, include_services=False).start() as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def catalog():
    return load_catalog(ROOT)


@pytest.fixture()
def context(soap_sandbox, catalog):
    """make(system, **overrides) -> PluginContext aimed at that system's stand-in."""

    def make(name: str, *, url: str | None = None, options: dict | None = None, profile: str | None = None, **env_updates):
        system = catalog.systems[name]
        env = soap_sandbox.context(name).settings
        update = {"url": url or soap_sandbox.url(name), **env_updates}
        if options is not None:
            update["options"] = {**env.options, **options}
        return PluginContext(
            environment="sandbox",
            project_root=ROOT,
            system_name=name,
            system=env.model_copy(update=update),
            options={"profile": profile or system.profile, "sender_oin": system.sender_oin},
        )

    for name in SOAP_SYSTEMS:
        soap_sandbox.context(name).faults.clear()
        soap_sandbox.context(name).received.clear()
    return make


