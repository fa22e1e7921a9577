"""A contract's JSON Schema is checked against the 2020-12 meta-schema on every ``koppel
validate``. jsonschema's ``check_schema`` took a tenth of a second for the project's 34 contracts,
so the plain ones are recognised as valid by ``contract._plainly_valid``, which may only ever say
"valid" where jsonschema agrees; anything else is left to jsonschema, whose message is reported."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime import paths
from runtime.errors import ConfigError
from runtime.mapping import contract
from runtime.yamlsource import load_file

ROOT = Path(__file__).resolve().parents[2]


def _jsonschema_accepts(schema) -> bool:  # noqa: ANN001
    cls = jsonschema.Draft202012Validator
    if isinstance(schema, dict) and isinstance(schema.get("$schema"), str):
        cls = jsonschema.validators.validator_for(schema, default=cls)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError:
        return False
    return True


def test_the_keywords_are_those_of_jsonschemas_meta_schema():
    from jsonschema_specifications import REGISTRY

    named = set()
    for uri in ["https://json-schema.org/draft/2020-12/schema",
                *(f"https://json-schema.org/draft/2020-12/meta/{v}" for v in
                  ("core", "applicator", "unevaluated", "validation", "meta-data", "format-annotation", "content"))]:
        named |= set(REGISTRY.contents(uri).get("properties", {}))
    assert named == contract.META_KEYWORDS


def _shipped() -> list[tuple[str, dict]]:
    out = []
    for path in sorted((ROOT / "mappings").glob("*.yaml")):
        found = (load_file(path).data or {}).get("contract") or {}
        if "json_schema" in found:
            out.append((path.stem, found["json_schema"]))
        elif "json_schema_file" in found:
            out.append((path.stem, json.loads(paths.expand(found["json_schema_file"], ROOT).read_text("utf-8"))))
    return out


SHIPPED = _shipped()


def test_every_shipped_contract_is_recognised_and_valid():
    assert len(SHIPPED) >= 30
    for name, schema in SHIPPED:
        assert contract._plainly_valid(schema), name
        assert _jsonschema_accepts(schema), name


_KEYS = st.sampled_from(sorted(contract.META_KEYWORDS | {"x-extension", "nullable", "discriminator"}))
_ODD = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 3), st.floats(allow_infinity=True), st.just(1.0),
    st.sampled_from(["", "string", "object", "integer", "nope", "[a-", "^a+$", "(?P<x", "#", "#/$defs/a", "#x",
                     "a:b", "1a:b", "https://x.nl/a#", "https://x.nl/a#/b", "urn:koppel:openapi#/components/schemas/P",
                     "//h:1x", "http://a:b:c", "a b", "%zz", "https://json-schema.org/draft/2020-12/schema",
                     "http://json-schema.org/draft-07/schema#", "anchor", "-bad", "date"]),
    st.lists(st.sampled_from(["string", "null", "a", "a", "number", 1, True]), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b", "^x", "(", 1]), st.booleans() | st.just({}), max_size=2),
)


def _schema_values(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(_ODD, inner, st.lists(inner, max_size=2),
                     st.dictionaries(st.sampled_from(["a", "b", "^x$", "("]), inner, max_size=2))


SCHEMAS = st.recursive(
    st.booleans() | st.dictionaries(_KEYS, _ODD, max_size=3),
    lambda inner: st.dictionaries(_KEYS, _schema_values(inner), max_size=4),
    max_leaves=10,
)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SCHEMAS)
def test_never_valid_where_jsonschema_refuses(schema):
    if contract._plainly_valid(schema):
        assert _jsonschema_accepts(schema), schema


def _near(good: list, bad: list) -> st.SearchStrategy:
    """Mostly a value the meta-schema accepts, sometimes one just beside it."""
    return st.one_of(st.sampled_from(good), st.sampled_from(good), st.sampled_from(good), st.sampled_from(bad))


_NUMBERS = ([0, 1, 2.5, -3, 10**20, float("inf")], [True, "1", None, float("nan")])
_COUNTS = ([0, 1, 7], [-1, 1.5, True, "3", None, 1.0])
_VALUES = {
    "type": _near(["string", "integer", ["string", "null"], ["number"], "object", "array", "boolean", "null"],
                  ["str", [], ["string", "string"], ["string", 1], None, "Integer"]),
    "pattern": _near(["^[0-9]{4}$", "", "a|b", "^\\d+$"], ["[a-", "(?<", "*", 5, None]),
    "format": _near(["date", "date-time", "uuid", "email", "anything"], [1, None, []]),
    "required": _near([[], ["a"], ["a", "b"]], [["a", "a"], "a", [1], [None], {}]),
    "enum": _near([[], ["a", 1, None], [{"x": 1}]], ["a", {}, None]),
    "const": st.sampled_from([None, 1, "a", {"b": []}]),
    "$ref": _near(["#/$defs/a", "#", "https://x.nl/s.json#/a", "urn:koppel:openapi#/components/schemas/P", "other.json"],
                  ["a:b", "1a:b", "//h:1x", "http://a:b:c", "a b", "%zz", 7]),
    "$id": _near(["https://x.nl/s.json", "https://x.nl/s.json#", "s.json", ""], ["https://x.nl/s#a", "a b", 1]),
    "$schema": _near(["https://json-schema.org/draft/2020-12/schema"],
                     ["http://json-schema.org/draft-07/schema#", "x", 1]),
    "$anchor": _near(["a", "_b.c-d"], ["-a", "1a", "a b", ""]),
    "title": _near(["t"], [1, None]), "description": _near(["d"], [1, []]),
    "uniqueItems": _near([True, False], [0, 1, "true"]),
    "deprecated": _near([True], [1]), "readOnly": _near([False], [None]),
    "examples": _near([[], [1]], [1, {}]),
    "multipleOf": _near([1, 0.5, 3], [0, -1, True, "2"]),
    **{k: _near(*_NUMBERS) for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")},
    **{k: _near(*_COUNTS) for k in ("minLength", "maxLength", "minItems", "maxItems", "minProperties",
                                    "maxProperties")},
    "x-extension": st.sampled_from([1, "a", None]),
}


def _near_valid(inner: st.SearchStrategy) -> st.SearchStrategy:
    subs = {
        "properties": st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
        "patternProperties": st.dictionaries(st.sampled_from(["^a", "b$", "[a-", "("]), inner, max_size=2),
        "$defs": st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2),
        "items": inner, "additionalProperties": inner, "not": inner, "if": inner, "then": inner, "else": inner,
        "allOf": st.lists(inner, max_size=2), "anyOf": st.lists(inner, max_size=2),
        "oneOf": st.lists(inner, min_size=1, max_size=2), "prefixItems": st.lists(inner, max_size=2),
    }
    return st.dictionaries(st.sampled_from(sorted(_VALUES) + sorted(subs)), st.just(None), max_size=5).flatmap(
        lambda keys: st.fixed_dictionaries({k: _VALUES[k] if k in _VALUES else subs[k] for k in keys}))


NEAR_VALID = st.recursive(st.booleans() | _near_valid(st.booleans()), _near_valid, max_leaves=8)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NEAR_VALID)
def test_never_valid_where_jsonschema_refuses_near_valid(schema):
    if contract._plainly_valid(schema):
        assert _jsonschema_accepts(schema), schema


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SHIPPED), st.data())
def test_a_shipped_contract_broken_in_one_place_is_never_passed_off(shipped, data):
    # the mistakes a contract author makes, put anywhere in a real contract
    _, schema = shipped
    schema = json.loads(json.dumps(schema))
    spots = []

    def collect(node):  # noqa: ANN001
        if isinstance(node, dict):
            spots.append(node)
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(schema)
    spot = data.draw(st.sampled_from(spots))
    spot[data.draw(_KEYS)] = data.draw(_ODD)
    if contract._plainly_valid(schema):
        assert _jsonschema_accepts(schema), schema


def test_an_invalid_contract_says_what_jsonschema_says():
    for schema in ({"type": "strin"}, {"properties": {"a": {"minLength": -1}}}, {"required": ["a", "a"]},
                   {"pattern": "[a-"}, {"type": "object", "additionalProperties": 3}):
        with pytest.raises(ConfigError) as exc:
            contract.load({"json_schema": schema}, ROOT)
        cls = jsonschema.Draft202012Validator
        expected = next(iter(cls(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER).iter_errors(schema))).message
        assert exc.value.message == f"the contract's JSON Schema is invalid: {expected}"


def test_a_contract_still_checks_records():
    from runtime.errors import ContractError

    check = contract.load({"json_schema": {"type": "object", "required": ["a"],
                                            "properties": {"a": {"type": "string", "maxLength": 2}}}}, ROOT).validate
    check({"a": "ok"})
    with pytest.raises(ContractError) as exc:
        check({"a": "too long"})
    assert exc.value.path == "a"
