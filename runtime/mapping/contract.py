"""The declared shape of a mapping's output: JSON Schema, an OpenAPI schema, or an XSD element.

A record that does not fit raises ContractError with the dotted field path and a reason built
from the schema (type, pattern, length, allowed values), never from the value itself.

Contracts from ``${specs}`` (the public WSDL/XSD/OpenAPI files) may be absent on a fresh clone:
then loading gives no validator and a warning saying why, and the check is skipped; it is not
silently passed off as checked.
"""

from __future__ import annotations

import hashlib
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

def _json_schema_validator(schema: dict, refs: Callable[[], tuple[Any, Any, str]] | None = None) -> Validator:
    """A validator for ``schema``, checked against its meta-schema now (a wrong contract is a
    definition error); the checking itself is prepared at the first record, not here: `koppel
    validate` loads every contract to check it and would pay for jsonschema's and the compiled
    check's set-up without checking one record."""
    problem = _schema_problem(schema)
    if problem is not None:
        raise ConfigError(f"the contract's JSON Schema is invalid: {problem}")
    prepared: list = []

    def validate(record: Any) -> None:
        if not prepared:
            registry, document, uri = refs() if refs is not None else (None, None, None)
            prepared.append(_prepare(schema, registry, document, uri))
        fits, validator = prepared[0]
        if fits is not None and fits(record):
            return  # compiled once, never more lenient than jsonschema (fastcontract.py)
        import jsonschema

        error = jsonschema.exceptions.best_match(validator.iter_errors(record))
        if error is not None:
            path, reason = describe(error)
            raise ContractError(redact.text(reason), path=path)

    return validate


def _prepare(schema: dict, registry: Any, document: Any, uri: str | None) -> tuple[Any, Any]:
    """The compiled check (or None) and jsonschema's validator, which names what is wrong."""
    import jsonschema

    from runtime.mapping.fastcontract import compile_fast

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    kwargs = {"registry": registry} if registry is not None else {}
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER, **kwargs)
    return compile_fast(schema, document, uri, cls.FORMAT_CHECKER), validator


def _schema_problem(schema: Any) -> str | None:
    """What is wrong with ``schema`` by its meta-schema (jsonschema's ``check_schema``), or None.

    Most contracts use a plain part of JSON Schema 2020-12 that ``_plainly_valid`` recognises as
    valid by itself, in a fraction of the time; any other is checked by jsonschema, once per
    distinct schema (by content) in a process."""
    if _plainly_valid(schema):
        return None
    try:
        key: str | None = json.dumps(schema, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):  # YAML data JSON cannot write (a date, a mixed-type key)
        key = None
    if key is not None and key in _CHECKED:
        return _CHECKED[key]
    import jsonschema

    cls = jsonschema.Draft202012Validator
    if isinstance(schema, dict) and isinstance(schema.get("$schema"), str):  # else it says what $schema must be
        cls = jsonschema.validators.validator_for(schema, default=cls)
    try:
        cls.check_schema(schema)
        problem = None
    except jsonschema.SchemaError as exc:
        problem = exc.message
    if key is not None:
        _CHECKED[key] = problem
    return problem


#: a schema's canonical JSON → its meta-schema problem (None: valid), for the ones jsonschema checked
_CHECKED: dict[str, str | None] = {}


#: JSON Schema 2020-12's meta-schema (every vocabulary and the deprecated keywords it still
#: defines): a keyword not named here is not constrained by it (tests/mapping keeps this equal to
#: jsonschema's own copy of the meta-schema)
META_KEYWORDS = frozenset({
    "$id", "$schema", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary", "$comment", "$defs",
    "prefixItems", "items", "contains", "additionalProperties", "properties", "patternProperties",
    "dependentSchemas", "propertyNames", "if", "then", "else", "allOf", "anyOf", "oneOf", "not",
    "unevaluatedItems", "unevaluatedProperties",
    "type", "const", "enum", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
    "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains", "minContains",
    "maxProperties", "minProperties", "required", "dependentRequired",
    "title", "description", "default", "deprecated", "readOnly", "writeOnly", "examples",
    "format", "contentEncoding", "contentMediaType", "contentSchema",
    "definitions", "dependencies", "$recursiveAnchor", "$recursiveRef",
})
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
_SIMPLE_TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})
_SEGMENT = r"[A-Za-z0-9._~-]*"
#: URI references any RFC 3986 checker accepts (an absolute https or urn URI, or a relative path),
#: with a fragment that is a JSON pointer; a narrower set than the format allows, never wider
_URI_BASE = rf"(?:https?://[a-z0-9.-]+(?:/{_SEGMENT})*|urn:[A-Za-z0-9._~-]+(?::[A-Za-z0-9._~-]+)*|{_SEGMENT}(?:/{_SEGMENT})*)"
_ID = re.compile(rf"{_URI_BASE}#?")
_REF = re.compile(rf"{_URI_BASE}(?:#(?:/[A-Za-z0-9._~$-]*)*)?")
_ANCHOR = re.compile(r"[A-Za-z_][-A-Za-z0-9._]*")


def _plainly_valid(schema: Any) -> bool:
    """True only if ``schema`` is certainly valid by JSON Schema 2020-12's meta-schema, as
    jsonschema's ``check_schema`` (formats asserted) would find: each keyword the meta-schema
    constrains is either checked here, more strictly than it does, or makes this say False (and
    jsonschema decides). Never True for a schema jsonschema refuses; tests/mapping holds it to that."""
    if not isinstance(schema, dict) or schema.get("$schema", DRAFT_2020_12) != DRAFT_2020_12:
        return False  # another draft: its own meta-schema, checked by jsonschema
    try:
        return _plain(schema)
    except RecursionError:
        return False


def _plain(schema: Any) -> bool:
    if type(schema) is bool:
        return True
    if not isinstance(schema, dict):
        return False
    for key, value in schema.items():
        if key not in META_KEYWORDS:
            continue  # not constrained by the meta-schema
        check = _KEYWORD_CHECKS.get(key)
        if check is None or not check(value):
            return False
    return True


def _nonnegative(value: Any) -> bool:
    return type(value) is int and value >= 0


def _number(value: Any) -> bool:
    return type(value) in (int, float) and value == value  # not NaN


def _regex(value: Any) -> bool:
    if type(value) is not str:
        return False
    try:
        re.compile(value)
    except re.error:
        return False
    return True


def _strings(value: Any) -> bool:
    return type(value) is list and all(type(v) is str for v in value) and len(set(value)) == len(value)


def _type(value: Any) -> bool:
    if type(value) is str:
        return value in _SIMPLE_TYPES
    return type(value) is list and bool(value) and all(type(v) is str and v in _SIMPLE_TYPES for v in value) \
        and len(set(value)) == len(value)


def _schemas(value: Any) -> bool:
    return type(value) is list and bool(value) and all(_plain(v) for v in value)


def _schema_map(value: Any) -> bool:
    return type(value) is dict and all(_plain(v) for v in value.values())


def _string(value: Any) -> bool:
    return type(value) is str


def _boolean(value: Any) -> bool:
    return type(value) is bool


_KEYWORD_CHECKS: dict[str, Callable[[Any], bool]] = {
    "$id": lambda v: type(v) is str and _ID.fullmatch(v) is not None,
    "$schema": lambda v: v == DRAFT_2020_12,
    "$ref": lambda v: type(v) is str and _REF.fullmatch(v) is not None,
    "$anchor": lambda v: type(v) is str and _ANCHOR.fullmatch(v) is not None,
    "$comment": _string,
    "$defs": _schema_map,
    "definitions": _schema_map,
    "prefixItems": _schemas,
    "allOf": _schemas,
    "anyOf": _schemas,
    "oneOf": _schemas,
    **{k: _plain for k in ("items", "contains", "additionalProperties", "propertyNames", "if", "then", "else", "not",
                           "unevaluatedItems", "unevaluatedProperties")},
    "properties": _schema_map,
    "patternProperties": lambda v: _schema_map(v) and all(_regex(k) for k in v),
    "type": _type,
    "const": lambda v: True,
    "enum": lambda v: type(v) is list,
    "multipleOf": lambda v: _number(v) and v > 0,
    **{k: _number for k in ("maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum")},
    **{k: _nonnegative for k in ("maxLength", "minLength", "maxItems", "minItems", "maxContains", "minContains",
                                 "maxProperties", "minProperties")},
    "pattern": _regex,
    "uniqueItems": _boolean,
    "required": _strings,
    "title": _string,
    "description": _string,
    "default": lambda v: True,
    "deprecated": _boolean,
    "readOnly": _boolean,
    "writeOnly": _boolean,
    "examples": lambda v: type(v) is list,
    "format": _string,
    "contentEncoding": _string,
    "contentMediaType": _string,
}


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
    names = _openapi_schema_names(path)
    if name not in names:
        close = ", ".join(sorted(names)[:20])
        raise ConfigError(f"schema '{name}' not found under components/schemas of {path.name} (has: {close}, ...)")
    uri = "urn:koppel:openapi"

    def refs() -> tuple[Any, Any, str]:  # the document is built at the first record, not by validate
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        document = _openapi_document(path)
        return Registry().with_resource(uri, Resource.from_contents(document, default_specification=DRAFT202012)), \
            document, uri

    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": f"{uri}#/components/schemas/{name}"}
    return _json_schema_validator(schema, refs)


def _openapi_schema_names(path: Path) -> frozenset:
    """The names under components/schemas of an OpenAPI document (what validate checks a
    contract's ``schema`` against), once per file content in a process."""
    raw = path.read_bytes()
    key = hashlib.sha256(raw).digest()
    names = _SCHEMA_NAMES.get(key)
    if names is None:
        from runtime import yamlsource

        store = yamlsource.artifacts  # kept between processes by koppel validate, as parsed YAML is
        version = f"{_code_version()}/{path.suffix == '.json'}"
        kept = store.get("openapi-schema-names", version, key) if store is not None else None
        if isinstance(kept, frozenset):
            names = kept
        else:
            names = _schema_names_from_events(raw) if path.suffix != ".json" else None
            if names is None:  # JSON, or YAML not plain enough on the way: the whole document
                names = frozenset(_openapi_document(path).get("components", {}).get("schemas", {}))
            if store is not None:
                store.put("openapi-schema-names", version, key, names)
        _SCHEMA_NAMES[key] = names
    return names


def _code_version() -> str:
    """What the names depend on besides the bytes: this module's code and PyYAML's version."""
    global _VERSION
    if _VERSION is None:
        import yaml

        _VERSION = f"{hashlib.sha256(Path(__file__).read_bytes()).hexdigest()}/{yaml.__version__}"
    return _VERSION


_VERSION: str | None = None


_SCHEMA_NAMES: dict[bytes, frozenset] = {}


def _schema_names_from_events(raw: bytes) -> frozenset | None:
    """components/schemas' keys from libyaml's event stream, without building the document (a
    third of the time: the two OOAPI files are 1 MB of YAML). None when the path there is not
    plain, as building the document would make it: an alias or merge key on it, a key that is
    not a plain string, a key twice, or not one document of mappings."""
    try:
        from yaml._yaml import CParser
    except ImportError:  # pragma: no cover - a PyYAML without libyaml
        return None
    import yaml
    from yaml import events

    parser = CParser(raw)
    resolver = yaml.resolver.Resolver()
    get = parser.get_event

    def key(event: Any) -> str | None:
        if type(event) is not events.ScalarEvent:
            return None
        tag = event.tag if event.tag not in (None, "!") else resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
        return event.value if tag == "tag:yaml.org,2002:str" and event.value != "<<" else None

    def skip(event: Any) -> None:
        depth = 1 if type(event) in (events.MappingStartEvent, events.SequenceStartEvent) else 0
        while depth:
            kind = type(get())
            depth += kind in (events.MappingStartEvent, events.SequenceStartEvent)
            depth -= kind in (events.MappingEndEvent, events.SequenceEndEvent)

    def walk(path: tuple[str, ...]) -> frozenset | None:
        """In the mapping just started: the keys, or with ``path`` the keys ``path`` leads to
        (none when a key on it is absent, as ``.get(key, {})`` gives); None if not plain."""
        seen: set[str] = set()
        found: frozenset | None = frozenset()
        while True:
            event = get()
            if type(event) is events.MappingEndEvent:
                return found if path else frozenset(seen)
            name = key(event)
            if name is None or name in seen:
                return None
            seen.add(name)
            value = get()
            if path and name == path[0]:
                if type(value) is not events.MappingStartEvent:
                    return None  # an alias, a null, a list: building the document says what it is
                found = walk(path[1:])
                if found is None:
                    return None
            else:
                skip(value)

    try:
        if type(get()) is not events.StreamStartEvent or type(get()) is not events.DocumentStartEvent:
            return None
        if type(get()) is not events.MappingStartEvent:
            return None
        found = walk(("components", "schemas"))
        if type(get()) is not events.DocumentEndEvent or type(get()) is not events.StreamEndEvent:
            return None
    except yaml.YAMLError:
        return None  # building the document says what is wrong
    finally:
        parser.dispose()
    return found


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
