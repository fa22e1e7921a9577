"""A mapping file's behaviour: every output form, value-map fallbacks, filters and error paths."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runtime.errors import ConfigError, ContractError, MappingError
from runtime.mapping import compile_mapping, load_mapping

ROOT = Path(__file__).resolve().parents[2]

STUDENT = {
    "student_number": "S1",
    "person": {"bsn": "123456782", "first_name": "Jan", "last_name": "Berg", "prefix": "van der", "email": None},
    "enrollments": [
        {"crebo": "25604", "leerweg": "BOL", "active": True, "start": "2026-08-01"},
        {"crebo": "25655", "leerweg": "BBL", "active": False, "start": "2025-08-01"},
    ],
    "enddate": None,
}


def mapping(output: dict, **extra) -> object:
    return compile_mapping({"name": "t", "output": output, **extra}, ROOT)


def test_every_output_form():
    m = mapping({
        "nummer": "student_number",
        "naam": {"achternaam": "person.last_name", "volledig": "full_name(person.first_name, person.prefix, person.last_name)"},
        "brin": {"const": "25LH"},
        "codes": {"const": ["a", "b"]},
        "email": {"expr": "person.email", "default": "onbekend@kw1c.nl"},
        "leertraject": {"expr": "enrollments[0].leerweg", "valuemap": "leertraject", "fallback": "error"},
        "einde": {"expr": "enddate", "when": "enddate != null"},
        "actief": {"each": "enrollments", "where": "active", "output": {"crebo": "crebo", "bsn": "mask(root().person.bsn)"}},
        "alle": {"each": "enrollments", "output": "crebo"},
        "namen": [{"taal": "'nl-NL'", "waarde": "person.first_name"}],
        "expliciet": {"object": {"expr": "student_number"}, "when": "student_number"},
    })
    out = m(STUDENT)
    assert out == {
        "nummer": "S1",
        "naam": {"achternaam": "Berg", "volledig": "Jan van der Berg"},
        "brin": "25LH",
        "codes": ["a", "b"],
        "email": "onbekend@kw1c.nl",
        "leertraject": "BOL",
        "actief": [{"crebo": "25604", "bsn": "*****6782"}],
        "alle": ["25604", "25655"],
        "namen": [{"taal": "nl-NL", "waarde": "Jan"}],
        "expliciet": {"expr": "S1"},
    }
    assert list(out) == ["nummer", "naam", "brin", "codes", "email", "leertraject", "actief", "alle", "namen", "expliciet"]
    out["codes"].append("c")  # a constant list is the record's own copy
    assert m(STUDENT)["codes"] == ["a", "b"]


def test_where_skips_a_record_and_omit_null_drops_empty_fields():
    m = mapping({"a": "person.email", "b": "student_number"}, where="person.bsn != null", omit_null=True)
    assert m(STUDENT) == {"b": "S1"}
    assert m({"person": {"bsn": None}}) is None


def test_fast_and_slow_paths_agree(monkeypatch):
    m = mapping({"n": "student_number", "x": {"each": "enrollments", "where": "active", "output": {"c": "crebo"}}})
    assert m._fast(STUDENT) == m._slow(STUDENT)


@pytest.mark.parametrize(
    ("fallback", "default", "expected"),
    [("pass", None, "ZZZ"), ("default", "BOL", "BOL")],
)
def test_value_map_fallbacks(fallback, default, expected):
    spec = {"expr": "leerweg", "valuemap": "leertraject", "fallback": fallback}
    if default:
        spec["default"] = default
    assert mapping({"lt": spec})({"leerweg": "ZZZ"}) == {"lt": expected}


def test_value_map_without_fallback_uses_the_maps_default_else_fails():
    assert mapping({"g": {"expr": "g", "valuemap": "geslacht"}})({"g": "?"}) == {"g": "O"}
    with pytest.raises(MappingError) as info:
        mapping({"lt": {"expr": "l", "valuemap": "leertraject"}})({"l": "ZZZ"})
    assert info.value.path == "lt" and "leertraject" in info.value.message
    assert mapping({"lt": "lookup(l, 'leertraject', 'pass')"})({"l": "ZZZ"}) == {"lt": "ZZZ"}
    assert mapping({"st": "lookup(s, 'signhost-status')"})({"s": 30}) == {"st": "ondertekend"}


def test_a_failing_field_names_its_path_and_never_the_value():
    m = mapping({"items": {"each": "enrollments", "output": {"start": "to_date(start)"}}})
    record = {"enrollments": [{"start": "2026-08-01"}, {"start": "123456782"}]}
    with pytest.raises(MappingError) as info:
        m(record)
    assert info.value.path == "items[1].start"
    assert "123456782" not in str(info.value)


def test_required_and_type_errors():
    with pytest.raises(MappingError, match="required value is missing") as info:
        mapping({"a": {"expr": "x", "required": True}})({})
    assert info.value.path == "a"
    with pytest.raises(MappingError, match=r"length\(\): expected") as info:
        mapping({"n": {"deep": "length(x)"}})({"x": 123456782})
    assert info.value.path == "n.deep" and "123456782" not in str(info.value)
    with pytest.raises(MappingError, match="not an object"):
        mapping({"a": "x"})(["not", "a", "record"])


def test_bad_definitions_fail_at_compile_time():
    with pytest.raises(ConfigError, match="unknown function"):
        mapping({"a": "nope(x)"})
    with pytest.raises(ConfigError, match="unknown value map"):
        mapping({"a": {"expr": "x", "valuemap": "onbekend"}})
    with pytest.raises(ConfigError, match="unknown value map"):
        mapping({"a": "lookup(x, 'onbekend')"})


def test_inline_json_schema_contract_rejects_with_the_field_path():
    m = mapping(
        {"crebo": "crebo", "naam": "naam", "niveau": "niveau"},
        contract={"json_schema": {
            "type": "object", "required": ["crebo", "niveau"],
            "properties": {"crebo": {"type": "string", "pattern": "^[0-9]{5}$"}},
        }},
    )
    with pytest.raises(ContractError) as info:
        m.validate(m({"crebo": "123456782", "naam": "x", "niveau": 4}))
    assert info.value.path == "crebo" and "pattern" in info.value.message
    assert "123456782" not in str(info.value)
    with pytest.raises(ContractError) as info:
        m.validate({"crebo": "25604"})
    assert info.value.path == "niveau" and "required" in info.value.message


def test_load_mapping_caches_by_content_and_versions_by_hash(tmp_path):
    shutil.copytree(ROOT / "mappings" / "valuemaps", tmp_path / "mappings" / "valuemaps")
    path = tmp_path / "mappings" / "m.yaml"
    path.write_text("name: m\noutput:\n  a: x\n")
    first = load_mapping(tmp_path, "m")
    assert load_mapping(tmp_path, "m") is first
    assert len(first.version) == 12 and first.name == "m"
    path.write_text("name: m\noutput:\n  a: y\n")
    second = load_mapping(tmp_path, "m")
    assert second is not first and second.version != first.version
    assert second({"y": 1}) == {"a": 1}
    path.write_text("name: other\noutput:\n  a: y\n")
    with pytest.raises(ConfigError, match="name must be 'm'"):
        load_mapping(tmp_path, "m")


def test_an_edited_value_map_recompiles_the_mapping(tmp_path):
    import os

    folder = tmp_path / "mappings" / "valuemaps"
    folder.mkdir(parents=True)
    (folder / "kleur.yaml").write_text("codes: {r: rood}\n")
    (tmp_path / "mappings" / "m.yaml").write_text("name: m\noutput:\n  k: {expr: c, valuemap: kleur}\n")
    assert load_mapping(tmp_path, "m")({"c": "r"}) == {"k": "rood"}
    (folder / "kleur.yaml").write_text("codes: {r: red}\n")
    os.utime(folder / "kleur.yaml", ns=(1, 10**18))  # a different mtime even within one clock tick
    assert load_mapping(tmp_path, "m")({"c": "r"}) == {"k": "red"}
