"""Every shipped YAML file fits the JSON Schema its first line points editors to, checked by an
independent validator (check-jsonschema), as an editor with the YAML language server would."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
POINTER = re.compile(r"^# yaml-language-server: \$schema=(\S+)")


def _files_by_schema() -> dict[Path, list[Path]]:
    groups: dict[Path, list[Path]] = defaultdict(list)
    for path in [ROOT / "catalog.yaml", *sorted((ROOT / "interfaces").glob("*.yaml")),
                 *sorted((ROOT / "mappings").rglob("*.yaml"))]:
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        match = POINTER.match(first)
        assert match, f"{path.relative_to(ROOT)} does not point to its schema on its first line"
        groups[(path.parent / match.group(1)).resolve()].append(path)
    return groups


def test_every_shipped_yaml_file_fits_its_schema() -> None:
    groups = _files_by_schema()
    assert {p.name for p in groups} >= {"catalog.schema.json", "interface.schema.json", "mapping.schema.json",
                                        "valuemap.schema.json", "mapping-tests.schema.json"}
    checker = Path(sys.executable).with_name("check-jsonschema")
    for schema, files in groups.items():
        assert schema.exists(), f"{schema} is missing: run koppel schema"
        result = subprocess.run([str(checker), "--schemafile", str(schema), *map(str, files)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{schema.name}:\n{result.stdout}{result.stderr}"
