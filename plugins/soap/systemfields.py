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

from runtime.errors import ConfigError

# reading the options is the rest plugin's system_fields' own (one reader for both plugins); only
# applying them differs: here the catalog's value wins and missing objects are made
from plugins.rest.fields import values

__all__ = ["applied", "values"]


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
