"""One SOAP call on demand, outside any interface: for a person at a terminal (``koppel sbb``).

The call goes out exactly as an interface's would: the system's settings for the chosen
environment from catalog.yaml, the caller's ``system_fields`` set from them (SBB's Licentie), the
answer read through the same safe parser and fault taxonomy. Nothing is written anywhere: no
state store, no SIS, no cache; the answer is returned masked (``redact.data``: BSNs and
secrets) for the caller to show. A functional refusal (SBB's Signaalcode) is a RecordError with
the vendor's text, a missing or wrong licence a ConfigError, as in a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runtime import redact
from runtime.errors import ConfigError
from runtime.plugin import PluginContext

from . import faults, systemfields
from .client import SoapEndpoint
from .settings import from_context


def context_for(project_root: Path, system: str, environment: str) -> PluginContext:
    """The PluginContext an interface run would give a plugin for ``system`` in ``environment``."""
    from runtime.models.catalog import Catalog
    from runtime.yamlsource import load_file

    path = project_root / "catalog.yaml"
    if not path.exists():
        raise ConfigError(f"no catalog.yaml in {project_root} (use --project)")
    catalog = Catalog.model_validate(load_file(path, "catalog.yaml").data or {})
    described = catalog.systems.get(system)
    if described is None:
        raise ConfigError(f"catalog.yaml has no system {system!r}")
    settings = described.environments.get(environment)  # type: ignore[call-overload]
    if settings is None:
        raise ConfigError(f"system {system}: no settings for environment {environment!r} in catalog.yaml")
    return PluginContext(environment=environment, project_root=project_root, system_name=system, system=settings,
                         options={"profile": described.profile, "sender_oin": described.sender_oin})


def call(ctx: PluginContext, wsdl: str, operation: str, payload: dict[str, Any],
         system_fields: dict[str, str] | None = None) -> dict[str, Any]:
    """``operation`` called once with ``payload`` and the ``system_fields`` (field path → option, as
    on a spec) set from the catalog; the masked answer."""
    endpoint = SoapEndpoint(wsdl, from_context(ctx))
    try:
        endpoint.operation(operation)
        values = systemfields.values(system_fields or {}, ctx)
        body = systemfields.applied(payload, values, ctx.system_name or "soap")
        result = endpoint.call(operation, body)
    finally:
        endpoint.close()
    refused = faults.functional_rejection(result.answer, system=endpoint.settings.system)
    if refused is not None:
        raise refused
    return redact.data(result.answer)
