"""Check SCIM 2.0 resources against the RFC 7643 §8.7 schema representations (``specs/scim2``).

Those files are SCIM ``Schema`` resources (attribute lists), not JSON Schema, so this module
walks them: known attributes only (case-insensitive, as SCIM names are), required ones present,
single- versus multi-valued, value types, sub-attributes and canonical values of ``type``.
Extension attributes live under their schema URN and are checked against that schema.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
FILES = {USER: "core/User.json", GROUP: "core/Group.json", ENTERPRISE: "extension/Enterprise-User.json"}
COMMON = {"schemas", "id", "externalid", "meta"}  # RFC 7643 §3.1, in every resource
TYPES = {"string": str, "reference": str, "datetime": str, "binary": str, "boolean": bool, "integer": int,
         "decimal": (int, float), "complex": dict}


@functools.lru_cache(maxsize=8)
def load(scim_dir: Path, urn: str) -> dict[str, Any]:
    data = json.loads((scim_dir / FILES[urn]).read_text(encoding="utf-8"))
    return data[0] if isinstance(data, list) else data


def errors(scim_dir: Path, resource: Any, core: str) -> list[str]:
    """Violations of ``resource`` as a ``core`` resource (USER or GROUP) with its extensions."""
    if not isinstance(resource, dict):
        return ["(root): a SCIM resource is a JSON object"]
    schemas = resource.get("schemas")
    if not isinstance(schemas, list) or core not in schemas:
        return [f"schemas: must list {core}"]
    found: list[str] = []
    extensions = [s for s in schemas if s != core]
    for urn in extensions:
        if urn not in FILES:
            found.append(f"schemas: unknown extension {urn}")
        elif not isinstance(resource.get(urn), dict):
            found.append(f"{urn}: listed in schemas but absent")
    core_attrs = {k: v for k, v in resource.items() if k.lower() not in COMMON and k not in extensions}
    found += _check_attributes(load(scim_dir, core)["attributes"], core_attrs, "")
    for urn in extensions:
        if urn in FILES and isinstance(resource.get(urn), dict):
            found += _check_attributes(load(scim_dir, urn)["attributes"], resource[urn], urn + ":")
    return found


def _check_attributes(definitions: list[dict[str, Any]], values: dict[str, Any], prefix: str) -> list[str]:
    by_name = {d["name"].lower(): d for d in definitions}
    found = []
    for d in definitions:
        if d.get("required") and not any(k.lower() == d["name"].lower() for k in values):
            found.append(f"{prefix}{d['name']}: required")
    for key, value in values.items():
        d = by_name.get(key.lower())
        where = prefix + key
        if d is None:
            found.append(f"{where}: not an attribute of this schema")
            continue
        if d.get("multiValued"):
            if not isinstance(value, list):
                found.append(f"{where}: multi-valued, must be a list")
                continue
            for i, item in enumerate(value):
                found += _check_value(d, item, f"{where}[{i}]")
        else:
            found += _check_value(d, value, where)
    return found


def _check_value(d: dict[str, Any], value: Any, where: str) -> list[str]:
    kind = d["type"].lower()
    expected = TYPES.get(kind)
    if value is None:
        return []
    if expected and (not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool))):
        return [f"{where}: must be {kind}"]
    if kind == "complex":
        return _check_attributes(d.get("subAttributes", []), value, where + ".")
    canonical = d.get("canonicalValues")
    if canonical and d["name"] == "type" and value not in canonical:
        return [f"{where}: '{value}' is not one of {canonical}"]
    return []
