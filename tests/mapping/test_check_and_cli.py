"""`koppel validate` on mapping files and `koppel test`, as an integration specialist uses them."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

from click.testing import CliRunner

from runtime.cli import main
from runtime.mapping.check import check_mappings

ROOT = Path(__file__).resolve().parents[2]


def scratch(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    return tmp_path


def koppel(project: Path, *args: str):
    return CliRunner().invoke(main, ["--project", str(project), *args], catch_exceptions=False)


def test_the_projects_mapping_files_are_valid():
    assert [str(d) for d in check_mappings(SimpleNamespace(root=ROOT))] == []


def test_validate_reports_each_problem_with_file_line_and_path(tmp_path):
    root = scratch(tmp_path)
    (root / "mappings" / "kapot.yaml").write_text(
        "name: stuk\n"
        "output:\n"
        "  a: person.name\n"
        "  b: \"foo(person.x)\"\n"
        "  c: \"person..x\"\n"
        "  d: {expr: leerweg, valuemap: onbekend}\n"
        "  e: {expr: x, valuemp: y}\n"
        "  f: {each: xs, output: {g: \"to_date(a, b, c)\"}}\n"
    )
    found = {str(d) for d in check_mappings(SimpleNamespace(root=root)) if d.file == "mappings/kapot.yaml"}
    assert found == {
        "mappings/kapot.yaml:1:1: name: name must be 'kapot', the file name without .yaml",
        "mappings/kapot.yaml:4:3: output.b: unknown function foo(); did you mean floor()? see mappings/README.md for the list",
        "mappings/kapot.yaml:5:3: output.c: invalid expression 'person..x': Expecting: ['quoted_identifier', "
        "'unquoted_identifier', 'lbracket', 'lbrace'], got: dot near '.' (at character 8 of the expression)",
        "mappings/kapot.yaml:6:22: output.d.valuemap: unknown value map 'onbekend' (mappings/valuemaps/onbekend.yaml "
        "not found; known: " + ", ".join(sorted(p.stem for p in (root / "mappings" / "valuemaps").glob("*.yaml"))) + ")",
        "mappings/kapot.yaml:7:16: output.e.valuemp: Extra inputs are not permitted",
        "mappings/kapot.yaml:8:26: output.f.output.g: to_date(value, [format]) takes at most 2 argument(s), got 3",
    }


def test_koppel_test_passes_for_every_mapping_with_tests():
    result = koppel(ROOT, "test")
    assert result.exit_code == 0, result.output
    assert " 0 failed" in result.output


def test_one_changed_expected_value_fails_with_a_readable_diff(tmp_path):
    root = scratch(tmp_path)
    tests = root / "mappings" / "tests" / "vva-status.yaml"
    tests.write_text(tests.read_text().replace("status: ingeschreven, statusDatum", "status: aangemeld, statusDatum", 1))
    result = koppel(root, "test", "vva-status")
    assert result.exit_code == 1
    out = result.output
    assert "FAIL  vva-status :: ingeschreven aanmelding met BSN" in out
    assert '-  "status": "aangemeld",' in out
    assert '+  "status": "ingeschreven",' in out
    assert "171420044" not in out  # the BSN is never printed
    assert "6 passed, 1 failed" in out


def test_named_cases_and_unknown_names(tmp_path):
    result = koppel(ROOT, "test", "vva-status", "-k", "onbekende status")
    assert result.exit_code == 0 and "1 passed, 0 failed" in result.output
    result = CliRunner().invoke(main, ["--project", str(ROOT), "test", "bestaat-niet"])
    assert result.exit_code == 1 and "no mapping named bestaat-niet" in result.output


def test_a_wrong_error_expectation_says_what_differed(tmp_path):
    root = scratch(tmp_path)
    tests = root / "mappings" / "tests" / "vva-status.yaml"
    tests.write_text(tests.read_text().replace("path: brinMbo, contains: pattern", "path: opleiding, contains: pattern"))
    result = koppel(root, "test", "vva-status")
    assert result.exit_code == 1
    assert "expected the error at 'opleiding', it was at 'brinMbo'" in result.output


def test_the_diff_masks_bsns():
    from runtime.mapping.testing import diff

    text = diff({"bsn": "123456782", "a": 1}, {"bsn": "123456782", "a": 2})
    assert '"bsn": "*****6782"' in text and "123456782" not in text
    assert '-  "a": 1' in text and '+  "a": 2' in text


def test_the_editor_schemas_accept_every_file_and_reject_a_typo():
    import jsonschema
    import yaml

    from runtime.mapping.model import MappingFile, MappingTests, ValueMapFile

    for model, pattern in [(MappingFile, "*.yaml"), (ValueMapFile, "valuemaps/*.yaml"), (MappingTests, "tests/*.yaml")]:
        validator = jsonschema.Draft202012Validator(model.model_json_schema())
        for path in sorted((ROOT / "mappings").glob(pattern)):
            errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))]
            assert not errors, f"{path.name}: {errors[:2]}"
    validator = jsonschema.Draft202012Validator(MappingFile.model_json_schema())
    assert not validator.is_valid({"name": "x", "output": {"a": {"expr": "x", "valuemp": "y"}}})


def test_without_the_specs_folder_cases_still_run_and_the_skip_is_announced(monkeypatch, tmp_path):
    monkeypatch.setenv("KOPPEL_SPECS_DIR", str(tmp_path / "nowhere"))
    result = CliRunner().invoke(main, ["--project", str(ROOT), "test", "opleiding-ooapi"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "contract not checked" in result.output and "KOPPEL_SPECS_DIR" in result.output
    # a case that expects a contract error cannot be decided without the contract: skipped, said so
    assert "SKIP  opleiding-ooapi :: zonder naam breekt" in result.output
    assert "1 passed, 0 failed, 1 skipped" in result.output


def test_test_files_are_checked_too(tmp_path):
    root = scratch(tmp_path)
    (root / "mappings" / "tests" / "weg.yaml").write_text(
        "- {name: a, input: {}, expect: {}}\n- {name: a, input: {}, expect_skip: true, expect: {}}\n"
    )
    found = {str(d) for d in check_mappings(SimpleNamespace(root=root)) if d.file == "mappings/tests/weg.yaml"}
    assert found == {
        "mappings/tests/weg.yaml:2:3: [1]: Value error, give exactly one of expect, expect_error, expect_skip",
        "mappings/tests/weg.yaml:2:4: [1].name: a second case named 'a' (the first is case 1)",
        "mappings/tests/weg.yaml:1:1: tests for mapping 'weg', but mappings/weg.yaml does not exist",
    }
