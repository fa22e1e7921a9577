"""`koppel validate` checks SIS fields before anything runs (issue 14): a field a `sis` target
writes, or a `sis` source's `where` reads, that the store does not have is reported with its
file and line and a did-you-mean, not found as a dead letter of every record at `koppel run`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _validate(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime.cli", "--project", str(project), "validate"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_project_writes_only_fields_the_store_has(project_root: Path) -> None:
    result = _validate(project_root)
    assert "is not a field of SIS object" not in result.stdout, result.stdout


def test_a_sis_target_field_the_store_lacks_fails_validate_at_its_line(project_copy: Path) -> None:
    mapping = project_copy / "mappings/b3net-bpv-matching.yaml"
    _edit(mapping, "  start_date: {expr:", "  realised_hours: {expr: \"uren\"}\n  start_dat: {expr:")
    result = _validate(project_copy)
    assert result.returncode == 1
    lines = mapping.read_text(encoding="utf-8").splitlines()
    row = next(i for i, line in enumerate(lines, 1) if line.startswith("  realised_hours:"))
    assert re.search(rf"mappings/b3net-bpv-matching.yaml:{row}:3: output.realised_hours: 'realised_hours' is not a "
                     r"field of SIS object 'internship'", result.stdout), result.stdout
    assert re.search(rf"mappings/b3net-bpv-matching.yaml:{row + 1}:3: output.start_dat: 'start_dat' is not a field "
                     r"of SIS object 'internship' \(did you mean 'start_date'\?\)", result.stdout), result.stdout


def test_a_where_on_a_field_the_object_lacks_fails_validate(project_copy: Path) -> None:
    interface = project_copy / "interfaces/19-sis-dms.yaml"
    _edit(interface, "&& status == 'definitief'", "&& staus == 'definitief'")
    result = _validate(project_copy)
    assert result.returncode == 1
    assert re.search(r"interfaces/19-sis-dms.yaml:\d+:\d+: source.where: 'staus' is not a field of document or its "
                     r"includes \(did you mean 'status'\?\)", result.stdout), result.stdout
