"""Request fields that are the system's, not the mapping's: set per environment in catalog.yaml.

``system_fields`` on a soap target or source maps a (dotted) field of the request to an option of
the system's settings for the chosen environment::

    system_fields: {request.Licentie: licentie}               # SBB: the school's licence, every call
    system_fields: {chainId: chain_id, sectorId: sector_id}   # ECK-iD: chain and sector per environment

    # catalog.yaml, systems.sbb.environments.productie
    options: {licentie: "${env:KOPPEL_SBB_LICENTIE}"}

One mechanism for both (it replaced ``options.call_fields``, a body fragment kept in the catalog,
which did the same job from the other side). Declared on the spec, so the interface says which
fields come from the catalog and ``koppel validate`` reports an unset option per environment;
the values stay in the catalog, per environment.

- A secret reference (``${env:...}``, ``${file:...}``) is resolved, and so masked in every log,
  error and dry-run.
- The catalog's value wins over the payload's: a mapping cannot send another licence or chain.
- Objects on the path are created where the payload has none (SBB's ``request`` wrapper); one
  that is there but is not an object is a configuration error.
- A missing option stops the run (ConfigError) saying what to set, before anything is sent.
"""

from __future__ import annotations

from typing import Any

from runtime import secrets
from runtime.errors import ConfigError
from runtime.plugin import PluginContext


def values(fields: dict[str, str], ctx: PluginContext) -> dict[str, Any]:
    """field path → the option's value for this environment, secret references resolved."""
    options = dict(ctx.system.options) if ctx.system is not None else {}
    out: dict[str, Any] = {}
    for path, option in fields.items():
        value = options.get(option)
        if value in (None, ""):
            raise ConfigError(f"system {ctx.system_name}: set options.{option} for environment '{ctx.environment}' "
                              f"in catalog.yaml (the request's {path})")
        if isinstance(value, str) and secrets.is_reference(value):
            value = secrets.resolve(value, base=ctx.project_root)
        out[path] = value
    return out


def applied(payload: dict[str, Any], fields: dict[str, Any], system: str) -> dict[str, Any]:
    """A copy of ``payload`` with every field set to the system's value (copied along each path)."""
    out = dict(payload)
    for path, value in fields.items():
        node = out
        parts = path.split(".")
        for depth, part in enumerate(parts[:-1]):
            inner = node.get(part)
            if inner is not None and not isinstance(inner, dict):
                where = ".".join(parts[: depth + 1])
                raise ConfigError(f"system {system}: system_fields {path}: the payload's {where} is not an object")
            node[part] = dict(inner or {})
            node = node[part]
        node[parts[-1]] = value
    return out
