"""`koppel validate`: the repository is clean, and each usual mistake is named with file and line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

KOPPEL = [sys.executable, "-m", "runtime.cli.__main__"]


def koppel(*args: str, cwd: Path):
    """In-process, through click's runner: the same CLI and error boundary, without paying the
    start-up of a new interpreter for each case (test_repository_validates runs it for real)."""
    from click.testing import CliRunner

    from runtime.cli import main

    result = CliRunner().invoke(main, ["--project", str(cwd), *args], catch_exceptions=False)
    result.returncode = result.exit_code
    return result


def koppel_process(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*KOPPEL, "--project", str(cwd), *args], capture_output=True, text=True, timeout=120)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_repository_validates(project_root: Path) -> None:
    result = koppel_process("validate", cwd=project_root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "28 interfaces" in result.stdout


BREAKAGES = {
    # name: (file, old text, new text, dotted path in the message, expected words)
    "misspelled field": ("interfaces/13-eckid.yaml", "name: ECK-iD", "nmae: ECK-iD", "nmae", "unknown field 'nmae' (did you mean 'name'?)"),
    "wrong type": ("interfaces/14-signhost.yaml", "type: batch\n", "type: 7\n", "type", "'batch' or 'realtime'"),
    "missing mapping file": ("interfaces/12-sis-vroegtijdig-aanmelden.yaml", "mapping: vva-status", "mapping: vva-statsu", "mapping", "mappings/vva-statsu.yaml not found (did you mean 'vva-status'?)"),
    "bad cron": ("interfaces/04-sis-website.yaml", '"0 5 * * *"', '"0 25 * * *"', "trigger.cron", "invalid cron expression"),
    "invalid jmespath": ("interfaces/27-dlo-formatief.yaml", "records: items", 'records: "items[?"', "source.records", "invalid JMESPath expression"),
    "unknown system": ("interfaces/19-sis-dms.yaml", "system: dms", "system: dsm", "targets[0].system", "unknown system 'dsm' (did you mean 'dms'?)"),
    "duplicate key": ("interfaces/11-sis-intergrip-status.yaml", "type: realtime\n", "type: realtime\ntype: batch\n", "type", "duplicate key 'type'"),
    "not yaml": ("interfaces/22-xedule-rooster.yaml", "id: 22", "id: [22", "", "not valid YAML"),
    "unknown plugin type": ("interfaces/24-sis-b3net-verbintenis.yaml", "type: rest", "type: resst", "targets[0].type", "unknown type 'resst'"),
    "secret written as a value": ("catalog.yaml", "token: ${env:KOPPEL_DLO_TOKEN}", "token: hunter2-secret", "auth.token", "a secret must be a reference"),
    "malformed secret reference": ("catalog.yaml", "${env:KOPPEL_CRM_TOKEN}", "${env:}", "auth.token", "malformed reference"),
}


def line_of(path: Path, text: str) -> int:
    """The line where ``text`` starts in the file (1-based)."""
    content = path.read_text(encoding="utf-8")
    return content[: content.index(text)].count("\n") + 1


@pytest.mark.parametrize("name", sorted(BREAKAGES))
def test_each_breakage_is_reported_with_file_and_line(project_copy: Path, name: str) -> None:
    file, old, new, path, words = BREAKAGES[name]
    edit(project_copy / file, old, new)
    line = line_of(project_copy / file, new.splitlines()[-1] if name == "duplicate key" else new)
    result = koppel("validate", cwd=project_copy)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "hunter2-secret" not in result.stdout + result.stderr
    pattern = re.compile(rf"^{re.escape(file)}:(\d+):(\d+): (.*)$")
    found = [(int(m.group(1)), m.group(3)) for m in map(pattern.match, result.stdout.splitlines()) if m]
    assert any(
        words in message and message.split(": ", 1)[0].endswith(path) and (name == "not yaml" or abs(at - line) <= 1)
        for at, message in found
    ), (line, result.stdout)


def test_interface_missing_from_catalog_and_catalog_row_without_file(project_copy: Path) -> None:
    (project_copy / "interfaces/27-dlo-formatief.yaml").rename(project_copy / "interfaces/27-dlo.yaml")
    result = koppel("validate", cwd=project_copy)
    assert result.returncode == 1
    assert re.search(r"catalog.yaml:\d+:\d+: interfaces\[27\]\.file: interface 27 is defined in interfaces/27-dlo.yaml", result.stdout)

    (project_copy / "interfaces/27-dlo.yaml").unlink()
    edit(project_copy / "catalog.yaml", "  - id: 26\n", "  - id: 99\n")
    result = koppel("validate", cwd=project_copy)
    assert "interface 27 has no definition" in result.stdout
    assert re.search(r"interfaces/26-toetsresultaten.yaml:1:1: id: interface 26 has no row in catalog.yaml", result.stdout)


def test_all_problems_are_reported_in_one_run(project_copy: Path) -> None:
    for name in ("misspelled field", "bad cron", "unknown system", "duplicate key", "not yaml", "missing mapping file"):
        file, old, new, _where, _words = BREAKAGES[name]
        edit(project_copy / file, old, new)
    result = koppel_process("validate", cwd=project_copy)
    assert result.returncode == 1
    files = {line.split(":", 1)[0] for line in result.stdout.splitlines() if line.strip() and not line.startswith("warning:")}
    assert len(files) == 6, result.stdout
    assert "Traceback" not in result.stderr


def test_missing_catalog_is_reported_not_raised(project_copy: Path) -> None:
    (project_copy / "catalog.yaml").unlink()
    result = koppel("validate", cwd=project_copy)
    assert result.returncode == 1
    assert "catalog.yaml: file not found" in result.stdout
