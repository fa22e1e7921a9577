"""Payload fields that come from the system's settings for the environment, not from the mapping.

``system_fields: {"transaction.PostbackUrl": postback_url}`` on a rest target sets that (dotted)
field of every payload to the system's ``options.postback_url`` for the environment (Signhost's
per-transaction postback URL differs between the sandbox, acceptatie and productie). A value the
mapping set is kept; an option that is missing stops the run (ConfigError) with what to set.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from runtime import secrets
from runtime.errors import ConfigError
from runtime.plugin import Item, PluginContext


def values(fields: dict[str, str], ctx: PluginContext) -> dict[str, Any]:
    """field path → value, each option resolved (a ``${env:...}`` reference is read)."""
    options = dict(ctx.system.options) if ctx.system is not None else {}
    out: dict[str, Any] = {}
    for path, option in fields.items():
        value = options.get(option)
        if value in (None, ""):
            raise ConfigError(f"system {ctx.system_name}: set options.{option} for environment '{ctx.environment}' "
                              f"in catalog.yaml (the payload's {path})")
        out[path] = secrets.resolve(value, base=ctx.project_root) if isinstance(value, str) and value.startswith("${") else value
    return out


def apply(items: Sequence[Item], fields: dict[str, Any]) -> list[Item]:
    """The items with those fields set where the payload does not have them (payloads copied)."""
    if not fields:
        return list(items)
    out = []
    for item in items:
        payload = copy.deepcopy(item.payload) if isinstance(item.payload, dict) else item.payload
        if isinstance(payload, dict):
            for path, value in fields.items():
                _set_default(payload, path.split("."), value)
        out.append(Item(key=item.key, payload=payload, source_key=item.source_key, operation=item.operation,
                        object=item.object))
    return out


def _set_default(payload: dict[str, Any], parts: list[str], value: Any) -> None:
    node = payload
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            return  # the mapping gave no such object: nothing to complete
        node = child
    node.setdefault(parts[-1], value)
