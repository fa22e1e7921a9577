"""The declared shape of a mapping's output: JSON Schema, an OpenAPI schema, or an XSD element.

A record that does not fit raises ContractError with the dotted field path and a reason built
from the schema (type, pattern, length, allowed values), never from the value itself.

Contracts from ``${specs}`` (the public WSDL/XSD/OpenAPI files) may be absent on a fresh clone:
then loading gives no validator and a warning saying why, and the check is skipped; it is not
silently passed off as checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from runtime import paths, redact
from runtime.diagnostics import dotted
from runtime.errors import ConfigError, ContractError

Validator = Callable[[Any], None]


@dataclass
class LoadedContract:
    validate: Validator | None
    warning: str | None = None
    description: str = ""


def load(contract: dict | None, project_root: Path) -> LoadedContract:
    """A validator for the ``contract:`` section; ConfigError when it points at nothing."""
    if not contract:
        return LoadedContract(None)
    if "json_schema" in contract:
        return LoadedContract(_json_schema_validator(contract["json_schema"]), description="inline JSON Schema")
    if "json_schema_file" in contract:
        path = _existing(contract["json_schema_file"], project_root)
        if path is None:
            return _absent(contract["json_schema_file"], project_root)
        return LoadedContract(_json_schema_validator(_read_structured(path)), description=str(path.name))
    if "openapi" in contract:
        ref = contract["openapi"]
        path = _existing(ref["file"], project_root)
        if path is None:
            return _absent(ref["file"], project_root)
        return LoadedContract(_openapi_validator(path, ref["schema"]), description=f"{path.name}#{ref['schema']}")
    if "xsd" in contract:
        ref = contract["xsd"]
        path = _existing(ref["file"], project_root)
        if path is None:
            return _absent(ref["file"], project_root)
        from runtime.mapping.xsd import xsd_validator

        return LoadedContract(xsd_validator(path, ref["element"]), description=f"{path.name} {ref['element']}")
    raise ConfigError("contract: give one of json_schema, json_schema_file, openapi, xsd")


def _existing(written: str, project_root: Path) -> Path | None:
    path = paths.expand(written, project_root)
    if path.is_file():
        return path
    if written.startswith(paths.SPECS_PLACEHOLDER):
        return None  # the public contracts are not on this machine: skip with a warning
    raise ConfigError(f"contract file {written} not found")


def _absent(written: str, project_root: Path) -> LoadedContract:
    where = paths.specs_dir(project_root)
    return LoadedContract(
        None,
        warning=f"contract not checked: {written} is not available ({where} not found; KOPPEL_SPECS_DIR sets the folder)",
    )


def _read_structured(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    import yaml

    # Public contracts are large (OOAPI is ~1 MB of YAML): libyaml's safe loader reads them ten
    # times faster than the pure-Python one, and validation is on every `koppel validate`.
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


# -- JSON Schema and OpenAPI ------------------------------------------------------------------

def _json_schema_validator(schema: dict, registry: Any = None, document: Any = None,
                           uri: str | None = None) -> Validator:
    import jsonschema

    from runtime.mapping.fastcontract import compile_fast

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ConfigError(f"the contract's JSON Schema is invalid: {exc.message}") from exc
    kwargs = {"registry": registry} if registry is not None else {}
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER, **kwargs)
    # compiled at the first record, not here: `koppel validate` loads every contract to check
    # it and would pay seconds compiling code it never runs
    compiled: list = []

    def validate(record: Any) -> None:
        if not compiled:
            compiled.append(compile_fast(schema, document, uri, cls.FORMAT_CHECKER))
        fits = compiled[0]
        if fits is not None and fits(record):
            return  # compiled once, never more lenient than jsonschema (fastcontract.py)
        error = jsonschema.exceptions.best_match(validator.iter_errors(record))
        if error is not None:
            path, reason = describe(error)
            raise ContractError(redact.text(reason), path=path)

    return validate


def describe(error: Any) -> tuple[str, str]:
    """Field path and a reason from the schema, never quoting the offending value."""
    path = list(error.absolute_path)
    kind, expected = error.validator, error.validator_value
    if kind == "required":
        missing = [name for name in expected if not (isinstance(error.instance, dict) and name in error.instance)]
        name = missing[0] if missing else "?"
        return dotted([*path, name]), "required field is missing"
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        return dotted([*path, extra[0]] if extra else path), "field not allowed by the contract"
    reasons = {
        "type": lambda: f"expected type {expected}",
        "enum": lambda: f"not one of the allowed values {expected}",
        "const": lambda: f"must be {expected!r}",
        "pattern": lambda: f"does not match the pattern {expected}",
        "format": lambda: f"not a valid {expected}",
        "maxLength": lambda: f"longer than {expected} characters",
        "minLength": lambda: f"shorter than {expected} characters",
        "maximum": lambda: f"greater than {expected}",
        "minimum": lambda: f"less than {expected}",
        "maxItems": lambda: f"more than {expected} items",
        "minItems": lambda: f"fewer than {expected} items",
    }
    reason = reasons.get(kind, lambda: f"does not satisfy '{kind}' of the contract")()
    return dotted(path), reason


def _openapi_validator(path: Path, name: str) -> Validator:
    document = _openapi_document(path)
    schemas = document.get("components", {}).get("schemas", {})
    if name not in schemas:
        close = ", ".join(sorted(schemas)[:20])
        raise ConfigError(f"schema '{name}' not found under components/schemas of {path.name} (has: {close}, ...)")
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    uri = "urn:koppel:openapi"
    registry = Registry().with_resource(uri, Resource.from_contents(document, default_specification=DRAFT202012))
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": f"{uri}#/components/schemas/{name}"}
    return _json_schema_validator(schema, registry, document, uri)


@lru_cache(maxsize=8)
def _openapi_document(path: Path) -> dict:
    document = _read_structured(path)
    if str(document.get("openapi", "")).startswith("3.0"):
        _nullable_to_type(document)
    return document


def _nullable_to_type(node: Any, seen: set[int] | None = None) -> None:
    """OpenAPI 3.0's ``nullable: true`` is ``type: [X, "null"]`` in JSON Schema.

    YAML anchors make shared (even cyclic) nodes, as in NED's bundled ooapiv5_MBO.yaml: each
    node is visited once."""
    seen = set() if seen is None else seen
    if isinstance(node, (dict, list)):
        if id(node) in seen:
            return
        seen.add(id(node))
    if isinstance(node, dict):
        if node.get("nullable") is True and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
            if "enum" in node and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
        for value in node.values():
            _nullable_to_type(value, seen)
    elif isinstance(node, list):
        for value in node:
            _nullable_to_type(value, seen)


_QUOTED_VALUE = re.compile(r"(The value|value) '[^']*'")
_NOT_VALID = re.compile(r"'[^']*' is not a valid value")


def scrub_xml_message(message: str) -> str:
    """An lxml validation message without the value it quotes."""
    message = _QUOTED_VALUE.sub(r"\1", message)
    return redact.text(_NOT_VALID.sub("the value is not a valid value", message))
