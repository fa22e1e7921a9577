"""validate checks an OpenAPI contract's ``schema`` against the names under components/schemas.
They are read from libyaml's events, without building the 1 MB documents; wherever that read
gives names at all, they must be the names the built document has."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime import paths
from runtime.errors import ConfigError
from runtime.mapping import contract

ROOT = Path(__file__).resolve().parents[2]
SPECS = [paths.expand(f"${{specs}}/{p}", ROOT) for p in ("ooapi/v5/ooapi.yaml", "ned-ooapi-oke/ooapiv5_MBO.yaml")]


def _built(text: str) -> frozenset:
    return frozenset(yaml.load(text, Loader=yaml.CSafeLoader).get("components", {}).get("schemas", {}))


@pytest.mark.parametrize("path", [p for p in SPECS if p.is_file()], ids=lambda p: p.name)
def test_the_shipped_specs_give_their_names_without_building(path):
    names = contract._schema_names_from_events(path.read_bytes())
    assert names is not None and len(names) > 20
    assert names == _built(path.read_text(encoding="utf-8"))


CASES = {
    "plain": ("openapi: 3.0.0\ncomponents:\n  schemas:\n    A: {type: string}\n    B: {}\n", {"A", "B"}),
    "no components": ("openapi: 3.0.0\npaths: {}\n", set()),
    "no schemas": ("components:\n  responses: {}\n", set()),
    "other keys around": ("a: [1, {b: c}]\ncomponents:\n  x: &x {y: 1}\n  schemas:\n    A: *x\n    'B c': 1\nz: 2\n",
                          {"A", "B c"}),
    "components is an alias": ("base: &b {schemas: {A: {}}}\ncomponents: *b\n", None),
    "merge key": ("base: &b {A: {}}\ncomponents:\n  schemas:\n    <<: *b\n    B: {}\n", None),
    "a key twice": ("components:\n  schemas: {A: {}}\ncomponents:\n  schemas: {B: {}}\n", None),
    "a number as a name": ("components:\n  schemas:\n    200: {}\n    A: {}\n", None),
    "a null as a name": ("components:\n  schemas:\n    null: {}\n", None),
    "a tagged name": ("components:\n  schemas:\n    !!str 200: {}\n", {"200"}),
    "two documents": ("components: {schemas: {A: {}}}\n---\nb: 1\n", None),
    "not a mapping": ("- a\n- b\n", None),
    "schemas is a list": ("components:\n  schemas: [A]\n", None),
    "broken YAML": ("components:\n  schemas: {A: [}\n", None),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_path_that_is_not_plain_is_left_to_the_built_document(name):
    text, expected = CASES[name]
    names = contract._schema_names_from_events(text.encode())
    assert names == (None if expected is None else frozenset(expected))
    if names is not None:
        assert names == _built(text)


_NAMES = st.sampled_from(["A", "B", "components", "schemas", "200", "null", "'q'", "<<", "x y"])
_LEAF = st.sampled_from(["1", "{}", "[]", "*a", "&a {k: v}", "null", "'s'"])
_MAPS = st.recursive(_LEAF, lambda inner: st.dictionaries(_NAMES, inner, max_size=3).map(
    lambda d: "{" + ", ".join(f"{k}: {v}" for k, v in d.items()) + "}"), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(_MAPS)
def test_any_document_gives_the_built_names_or_none(text):
    text = "anchor: &a {k: v}\nroot: " + text if "*a" in text else text
    names = contract._schema_names_from_events(text.encode())
    try:
        built = _built(text)
    except (yaml.YAMLError, AttributeError, TypeError):
        # a document that does not build (a duplicate anchor, a bad merge elsewhere): its names
        # may be read, the error then comes when the document is built, at the first record
        return
    assert names is None or names == built


def test_a_missing_schema_name_is_reported_with_the_names_there(tmp_path):
    spec = tmp_path / "api.yaml"
    spec.write_text("openapi: 3.0.0\ncomponents:\n  schemas:\n    Program: {type: object}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"schema 'Progam' not found under components/schemas of api.yaml \(has: Program"):
        contract.load({"openapi": {"file": str(spec), "schema": "Progam"}}, tmp_path)
    check = contract.load({"openapi": {"file": str(spec), "schema": "Program"}}, tmp_path).validate
    check({"a": 1})
    with pytest.raises(Exception, match="expected type object"):
        check([1])
