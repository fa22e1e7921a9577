"""Fields every call to a system carries, set in its catalog settings (SBB's ``Licentie``).

``options.call_fields`` is a fragment of the request body merged into every call of that
system, source and target alike, e.g. for SBB White Label::

    options:
      call_fields: {request: {Licentie: "${file:sandbox/secrets/sbb-licentie}"}}

Secret references are resolved (and so masked in every log, error and dry-run). The catalog's
value wins over the payload's: a mapping cannot send another licence. Only into objects the
payload has or that the operation's request needs: the fragment is merged where the payload has
the same wrapper, and added when it has none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runtime import secrets
from runtime.errors import ConfigError


def merged(options: dict[str, Any], payload: dict[str, Any], root: Path, system: str) -> dict[str, Any]:
    fragment = options.get("call_fields")
    if not fragment:
        return payload
    if not isinstance(fragment, dict):
        raise ConfigError(f"system {system}: options.call_fields must be an object (a fragment of the request body)")
    return _merge(payload, _resolved(fragment, root), system)


def _resolved(value: Any, root: Path) -> Any:
    if isinstance(value, dict):
        return {k: _resolved(v, root) for k, v in value.items()}
    if isinstance(value, str) and secrets.is_reference(value):
        return secrets.resolve(value, base=root)
    return value


def _merge(payload: dict[str, Any], fragment: dict[str, Any], system: str) -> dict[str, Any]:
    out = dict(payload)
    for name, value in fragment.items():
        if isinstance(value, dict):
            inner = out.get(name)
            if inner is not None and not isinstance(inner, dict):
                raise ConfigError(f"system {system}: options.call_fields.{name} is an object, the payload's is not")
            out[name] = _merge(inner or {}, value, system)
        else:
            out[name] = value
    return out
