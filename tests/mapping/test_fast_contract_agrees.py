"""The compiled contract check (fastjsonschema) may only say "fits" where jsonschema agrees.

For every shipped mapping with a JSON Schema or OpenAPI contract, hypothesis takes the expected
outputs of its test cases and breaks them the ways records break (a field dropped, of another
type, an impossible date, an extra field, null): whenever the compiled check lets a record pass,
jsonschema, the authority that names the field path, must find nothing wrong with it either.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime import paths
from runtime.mapping.contract import _openapi_document, _read_structured
from runtime.mapping.fastcontract import compile_fast

ROOT = Path(__file__).resolve().parents[2]
URI = "urn:koppel:openapi"


def _schemas() -> list[tuple[str, dict, object, list[dict]]]:
    """(mapping, schema, $ref document or None, expected outputs of its cases)."""
    out = []
    for path in sorted((ROOT / "mappings").glob("*.yaml")):
        mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
        contract = mapping.get("contract") or {}
        cases = ROOT / "mappings/tests" / path.name
        expected = [c["expect"] for c in (yaml.safe_load(cases.read_text(encoding="utf-8")) if cases.exists() else [])
                    or [] if isinstance(c.get("expect"), dict)]
        if not expected:
            continue
        if "json_schema" in contract:
            out.append((path.stem, contract["json_schema"], None, expected))
        elif "json_schema_file" in contract:
            file = paths.expand(contract["json_schema_file"], ROOT)
            if file.is_file():
                out.append((path.stem, _read_structured(file), None, expected))
        elif "openapi" in contract:
            file = paths.expand(contract["openapi"]["file"], ROOT)
            if file.is_file():
                schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                          "$ref": f"{URI}#/components/schemas/{contract['openapi']['schema']}"}
                out.append((path.stem, schema, _openapi_document(file), expected))
    return out


SCHEMAS = _schemas()
BREAKAGES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 10**10), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=70), st.sampled_from(["2026-02-30", "2026-13-01", "31-12-2026", "", "x" * 300, "25LH", "@"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _slow(schema: dict, document):  # noqa: ANN001, ANN202
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    kwargs = {}
    if document is not None:
        kwargs["registry"] = Registry().with_resource(URI, Resource.from_contents(document,
                                                                                  default_specification=DRAFT202012))
    return cls(schema, format_checker=cls.FORMAT_CHECKER, **kwargs)


_CHECKS: dict[str, tuple] = {}


def _checks(name: str, schema: dict, document) -> tuple:  # noqa: ANN001
    """Both checks of one contract, compiled once for all of hypothesis's examples."""
    if name not in _CHECKS:
        fits = compile_fast(schema, document, URI if document else None, jsonschema.Draft202012Validator.FORMAT_CHECKER)
        _CHECKS[name] = (fits, _slow(schema, document))
    return _CHECKS[name]


def _broken(record: dict, data) -> dict:  # noqa: ANN001
    record = dict(record)
    for _ in range(data.draw(st.integers(1, 3))):
        action = data.draw(st.sampled_from(["drop", "replace", "add", "nest"]))
        keys = sorted(record)
        if action == "drop" and keys:
            record.pop(data.draw(st.sampled_from(keys)))
        elif action == "replace" and keys:
            record[data.draw(st.sampled_from(keys))] = data.draw(BREAKAGES)
        elif action == "add":
            record[data.draw(st.text(min_size=1, max_size=8))] = data.draw(BREAKAGES)
        elif keys:
            key = data.draw(st.sampled_from(keys))
            if isinstance(record[key], dict):
                record[key] = _broken(record[key], data)
    return record


def test_the_shipped_contracts_are_compiled() -> None:
    compiled = [name for name, schema, document, _ in SCHEMAS
                if compile_fast(schema, document, URI if document else None,
                                jsonschema.Draft202012Validator.FORMAT_CHECKER) is not None]
    assert len(compiled) >= 20, compiled  # most contracts take the fast path; see fastcontract.py if not


@pytest.mark.parametrize("name, schema, document, expected", SCHEMAS, ids=[s[0] for s in SCHEMAS])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_compiled_check_never_passes_what_jsonschema_refuses(name, schema, document, expected, data) -> None:
    fits, slow = _checks(name, schema, document)
    if fits is None:
        pytest.skip(f"{name}: no compiled check (jsonschema checks alone)")
    for record in expected:
        assert fits(record) == slow.is_valid(record), f"{name}: a test case's output"
    record = _broken(data.draw(st.sampled_from(expected)), data)
    if fits(record):
        errors = [e.message for e in slow.iter_errors(record)]
        assert not errors, f"{name}: the compiled check passed {record!r}, jsonschema says {errors}"


def test_an_impossible_date_is_refused_like_jsonschema_does() -> None:
    schema = {"type": "object", "properties": {"d": {"type": "string", "format": "date"}}}
    fits = compile_fast(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert fits({"d": dt.date(2026, 2, 28).isoformat()})
    assert not fits({"d": "2026-02-30"})  # fastjsonschema's own regex would let it pass


def test_a_schema_with_a_keyword_fastjsonschema_lacks_is_not_compiled() -> None:
    schema = {"type": "array", "prefixItems": [{"type": "integer"}]}
    assert compile_fast(schema) is None
