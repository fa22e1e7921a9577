"""SCIM PATCH (RFC 7644 §3.5.2): add, replace and remove applied to the current resource.

Koppel keeps no SCIM directory of its own: the current resource is what the SIS knows
(scim_directory), the operations are applied to it here, and the result is checked against the
schema and stored like a PUT. Paths: ``attr``, ``attr.sub``, ``urn:...:attr`` and a value filter
``attr[sub eq "x"]`` with an optional ``.sub`` after it (``emails[type eq "work"].value``,
``members[value eq "P100001"]``). Tolerated, because Entra ID sends them: operation names in any
case (``Replace``), ``"True"``/``"False"`` as booleans, dotted keys in a path-less value, and a
``remove`` of ``members`` with the members to remove as its value.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from runtime.engine.inbound import scim_filter
from runtime.engine.inbound.body import Refusal
from runtime.engine.inbound.scim_schema import (
    CORE,
    EXTENSIONS,
    PATCH_OP,
    SCHEMAS,
    Attr,
    find,
)

_PATH = re.compile(r"^(?P<attr>[^\[\].]+(?:\.[^\[\].]+)?)(?:\[(?P<filter>[^\]]+)\](?:\.(?P<sub>[^\[\].]+))?)?$")


def no_target(detail: str) -> Refusal:
    return Refusal(400, detail, scim_type="noTarget")


def invalid_path(detail: str) -> Refusal:
    return Refusal(400, detail, scim_type="invalidPath")


def apply(resource_type: str, current: dict[str, Any], body: Any) -> dict[str, Any]:
    """``current`` with the PatchOp ``body`` applied (a new dict), or Refusal(400)."""
    if not isinstance(body, dict) or PATCH_OP not in (body.get("schemas") or []):
        raise Refusal(400, f"a PATCH body lists the schema {PATCH_OP}", scim_type="invalidSyntax")
    operations = next((v for k, v in body.items() if k.lower() == "operations"), None)
    if not isinstance(operations, list) or not operations:
        raise Refusal(400, "Operations: a non-empty list is required", scim_type="invalidSyntax")
    resource = copy.deepcopy(current)
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise Refusal(400, f"Operations[{index}]: must be an object", scim_type="invalidSyntax")
        op = str(operation.get("op", "")).lower()
        if op not in ("add", "replace", "remove"):
            raise Refusal(400, f"Operations[{index}].op: must be add, replace or remove", scim_type="invalidSyntax")
        path, value = operation.get("path"), operation.get("value")
        if path is not None and not isinstance(path, str):
            raise invalid_path(f"Operations[{index}].path: must be a string")
        if not path:
            if op == "remove":
                raise no_target(f"Operations[{index}]: remove needs a path")
            if not isinstance(value, dict):
                raise Refusal(400, f"Operations[{index}].value: without a path, an object", scim_type="invalidValue")
            for key, item in value.items():
                _apply_path(resource_type, resource, op, key, item)
            continue
        if op != "remove" and "value" not in operation:
            raise Refusal(400, f"Operations[{index}].value: required for {op}", scim_type="invalidValue")
        _apply_path(resource_type, resource, op, path, value)
    return resource


def _container(resource_type: str, resource: dict[str, Any], path: str) -> tuple[dict[str, Any], str, tuple[Attr, ...]]:
    """Where ``path`` lives: the resource itself, or the object under an extension's URN."""
    for urn in EXTENSIONS[resource_type]:
        if path.lower().startswith(urn.lower() + ":"):
            holder = resource.setdefault(urn, {})
            if urn not in resource.setdefault("schemas", []):
                resource["schemas"].append(urn)
            return holder, path[len(urn) + 1:], SCHEMAS[urn]
        if path.lower() == urn.lower():
            return resource, urn, ()
    core = CORE[resource_type]
    if path.lower().startswith(core.lower() + ":"):
        path = path[len(core) + 1:]
    return resource, path, SCHEMAS[core]


def _apply_path(resource_type: str, resource: dict[str, Any], op: str, path: str, value: Any) -> None:
    holder, rest, attrs = _container(resource_type, resource, path)
    if not attrs:  # the extension's URN itself: its attributes as one object
        if op == "remove":
            holder.pop(rest, None)
        elif isinstance(value, dict):
            holder.setdefault(rest, {}).update(value)
        return
    m = _PATH.match(rest)
    if m is None:
        raise invalid_path(f"cannot read the path '{path[:100]}'")
    name, _, sub = m.group("attr").partition(".")
    attr = find(attrs, name)
    if attr is None:
        raise invalid_path(f"'{name}' is not an attribute of {resource_type}")
    key = _key(holder, attr.name)
    value = _booleans(attr, value)
    if m.group("filter"):
        _apply_filtered(holder, key, attr, op, m.group("filter"), m.group("sub"), value, path)
    elif sub:
        inner = find(attr.sub, sub)
        if attr.multi or inner is None:
            raise invalid_path(f"'{sub}' is not a sub-attribute of {attr.name}")
        target = holder.setdefault(key, {}) if op != "remove" else holder.get(key) or {}
        if op == "remove":
            target.pop(_key(target, inner.name), None)
        else:
            target[_key(target, inner.name)] = value
    elif op == "remove":
        if attr.multi and isinstance(value, list) and isinstance(holder.get(key), list):
            gone = [v.get("value") for v in value if isinstance(v, dict)]  # Entra: remove these members
            holder[key] = [v for v in holder[key] if not (isinstance(v, dict) and v.get("value") in gone)]
        else:
            holder.pop(key, None)
    elif op == "add" and attr.multi:
        additions = value if isinstance(value, list) else [value]
        existing: list[Any] = holder[key] if isinstance(holder.get(key), list) else []
        holder[key] = existing + [v for v in additions if v not in existing]
    elif op == "add" and attr.type == "complex" and isinstance(value, dict) and isinstance(holder.get(key), dict):
        holder[key].update(value)
    else:
        holder[key] = value


def _apply_filtered(holder: dict[str, Any], key: str, attr: Attr, op: str, text: str, sub: str | None,
                    value: Any, path: str) -> None:
    if not attr.multi:
        raise invalid_path(f"'{attr.name}' is single-valued: a value filter does not apply")
    condition = scim_filter.parse(text)
    items: list[Any] = holder[key] if isinstance(holder.get(key), list) else []
    chosen = [i for i, item in enumerate(items) if isinstance(item, dict) and condition.matches(item)]
    if sub is not None and find(attr.sub, sub) is None:
        raise invalid_path(f"'{sub}' is not a sub-attribute of {attr.name}")
    if op == "remove":
        if sub is None:
            holder[key] = [item for i, item in enumerate(items) if i not in chosen]
        else:
            for i in chosen:
                items[i].pop(_key(items[i], sub), None)
        return
    if not chosen:
        # Entra ID adds emails[type eq "work"].value to a user without a work address: create it
        if sub is not None and condition.required_equals:
            items.append({**{k: v for k, v in condition.required_equals.items()}, sub: value})
            holder[key] = items
            return
        raise no_target(f"no value of '{path[:100]}' matches the filter")
    for i in chosen:
        if sub is None:
            items[i] = {**items[i], **value} if isinstance(value, dict) else value
        else:
            items[i][_key(items[i], sub)] = value
    holder[key] = items


def _key(holder: dict[str, Any], name: str) -> str:
    """The key the holder already uses for ``name`` (any case), else the canonical name."""
    return next((k for k in holder if k.lower() == name.lower()), name)


def _booleans(attr: Attr, value: Any) -> Any:
    if attr.type == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value
