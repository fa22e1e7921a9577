"""Checking request bodies against an OpenAPI document (3.0 or 3.1) with jsonschema.

The target names the document (``openapi: ${specs}/signhost/openapi.yaml``) and either an
``operation`` (operationId: its JSON request body schema is used) or a ``schema_ref`` (a name
under ``components/schemas``). A body that does not fit is a ContractError for that record: it
is dead-lettered with the field path and never sent.

Documents are loaded once per process (cached by path and modification time) and validators
once per (document, operation/schema). OpenAPI 3.0's ``nullable: true`` and boolean
``exclusiveMinimum``/``exclusiveMaximum`` are translated to JSON Schema 2020-12, which 3.1 uses.

Error messages carry the field path and the rule that failed, never the offending value (it may
be personal data); what remains is masked with ``runtime.redact`` anyway.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime import redact
from runtime.errors import ConfigError, ContractError

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_URI = "urn:koppel:openapi"
_lock = threading.Lock()
_documents: dict[Path, tuple[float, "OpenApiDocument"]] = {}


def load(path: Path) -> "OpenApiDocument":
    """The document at ``path``, parsed once (again only when the file changes)."""
    path = Path(path).resolve()
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise ConfigError(f"OpenAPI document {path}: cannot read ({exc.strerror})") from None
    with _lock:
        cached = _documents.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
    document = OpenApiDocument(path, _parse(path))
    with _lock:
        _documents[path] = (mtime, document)
    return document


def _parse(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            data = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except Exception as exc:  # yaml and json raise many kinds
        raise ConfigError(f"OpenAPI document {path}: does not parse ({type(exc).__name__})") from None
    if not isinstance(data, dict) or ("paths" not in data and "components" not in data):
        raise ConfigError(f"OpenAPI document {path}: not an OpenAPI document (no paths or components)")
    return data


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    pointer: str | None  # JSON pointer to the JSON request body schema, if any


class OpenApiDocument:
    def __init__(self, path: Path, data: dict) -> None:
        self.path = path
        self.version = str(data.get("openapi", data.get("swagger", "")))
        self.data = data if self.version.startswith("3.1") else _from_30(data)
        self._validators: dict[str, Any] = {}
        self._operations: dict[str, Operation] = {}
        for template, item in (self.data.get("paths") or {}).items():
            for method in _METHODS:
                op = (item or {}).get(method)
                if isinstance(op, dict) and op.get("operationId"):
                    pointer = self._body_pointer(f"/paths/{_escape(template)}/{method}", op)
                    self._operations[op["operationId"]] = Operation(op["operationId"], method.upper(), template, pointer)

    def operation(self, operation_id: str) -> Operation | None:
        return self._operations.get(operation_id)

    @property
    def operation_ids(self) -> list[str]:
        return sorted(self._operations)

    def has_schema(self, name: str) -> bool:
        return name in ((self.data.get("components") or {}).get("schemas") or {})

    def validator(self, *, operation: str | None = None, schema_ref: str | None = None) -> "BodyValidator | None":
        """A validator for the operation's JSON body or the named schema; None if there is none."""
        if schema_ref:
            name = schema_ref.rsplit("/", 1)[-1]
            if not self.has_schema(name):
                raise ConfigError(f"{self.path.name}: no schema '{name}' under components/schemas")
            pointer = f"/components/schemas/{_escape(name)}"
        elif operation:
            op = self.operation(operation)
            if op is None:
                raise ConfigError(f"{self.path.name}: no operation '{operation}'")
            if op.pointer is None:
                return None
            pointer = op.pointer
        else:
            return None
        with _lock:
            found = self._validators.get(pointer)
        if found is None:
            found = BodyValidator(self.data, pointer)
            with _lock:
                self._validators[pointer] = found
        return found

    def _body_pointer(self, base: str, op: dict) -> str | None:
        body = op.get("requestBody")
        pointer = f"{base}/requestBody"
        if isinstance(body, dict) and "$ref" in body:  # components/requestBodies/...
            pointer = body["$ref"].lstrip("#")
            body = _at(self.data, pointer)
        content = (body or {}).get("content") or {}
        for ctype in content:
            if "json" in ctype and isinstance(content[ctype], dict) and "schema" in content[ctype]:
                return f"{pointer}/content/{_escape(ctype)}/schema"
        return None


class BodyValidator:
    def __init__(self, document: dict, pointer: str) -> None:
        from jsonschema import Draft202012Validator, FormatChecker
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        registry = Registry().with_resource(_URI, resource)
        self.pointer = pointer
        self._validator = Draft202012Validator(
            {"$ref": f"{_URI}#{pointer}"}, registry=registry, format_checker=FormatChecker()
        )

    def errors(self, payload: Any) -> list[tuple[str, str]]:
        """(field path, rule) for every violation, most relevant first."""
        from jsonschema.exceptions import relevance

        found = sorted(self._validator.iter_errors(payload), key=relevance)
        return [(_path(e), _describe(e)) for e in found]

    def check(self, payload: Any) -> None:
        """Raise ContractError (path, rule) when ``payload`` does not fit."""
        problems = self.errors(payload)
        if problems:
            path, rule = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ContractError(
                f"does not fit the OpenAPI contract: {rule}{more}",
                path=path or None,
                code="openapi",
                detail=[{"path": p, "rule": r} for p, r in problems[:20]],
            )


def _path(error: Any) -> str:
    return ".".join(str(p) for p in error.absolute_path)


def _describe(error: Any) -> str:
    """The rule that failed, from the schema side only (the value may be personal data)."""
    kind = error.validator
    expected = error.validator_value
    if kind in ("required", "additionalProperties", "unevaluatedProperties", "dependentRequired"):
        text = error.message  # names properties, never values
    elif kind == "oneOf" and not error.context:
        text = "matches more than one of the allowed shapes (oneOf)"
    elif kind in ("oneOf", "anyOf"):
        text = f"matches none of the allowed shapes ({kind})"
    elif kind == "enum":
        text = f"not one of {json.dumps(expected, default=str)[:200]}"
    elif kind == "type":
        text = f"must be of type {json.dumps(expected)}"
    elif kind == "format":
        text = f"not a valid {expected}"
    elif kind == "const":
        text = f"must be {json.dumps(expected, default=str)[:100]}"
    else:
        text = f"violates {kind}: {json.dumps(expected, default=str)[:100]}"
    return redact.text(text)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _at(document: dict, pointer: str) -> Any:
    node: Any = document
    for token in pointer.strip("/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def _from_30(node: Any) -> Any:
    """OpenAPI 3.0 schema dialect → JSON Schema 2020-12 (nullable, boolean exclusive bounds)."""
    if isinstance(node, list):
        return [_from_30(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _from_30(v) for k, v in node.items()}
    if out.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            out["type"] = [*kind, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), bool):
            if out[bound] and limit in out:
                out[bound] = out.pop(limit)
            else:
                out.pop(bound)
    return out
