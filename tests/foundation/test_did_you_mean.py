"""A misspelt function or value map in a mapping gets a "did you mean", as systems do (issue 14)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_misspelt_function_and_value_map_get_a_suggestion(project_copy: Path) -> None:
    mapping = project_copy / "mappings/b3net-verbintenis.yaml"
    text = mapping.read_text(encoding="utf-8")
    mapping.write_text(text.replace("pad_left(program.crebo", "pad_lefft(program.crebo")
                       .replace("valuemap: leertraject,", "valuemap: leertrajct,"), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "runtime.cli", "--project", str(project_copy), "validate"],
                            capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("mappings/b3net-verbintenis.yaml")]
    assert any("output.crebo.expr: unknown function pad_lefft(); did you mean pad_left()?" in line
               for line in lines), lines
    assert any("output.leerweg.valuemap: unknown value map 'leertrajct' (did you mean 'leertraject'?" in line
               for line in lines), lines


def test_validate_reports_as_json_with_file_line_and_path(project_copy: Path) -> None:
    import json

    (project_copy / "interfaces/19-sis-dms.yaml").write_text(
        (project_copy / "interfaces/19-sis-dms.yaml").read_text(encoding="utf-8").replace("system: dms", "system: dsm"),
        encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "runtime.cli", "--project", str(project_copy), "validate",
                             "--format", "json"], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    mine = [p for p in report["problems"] if p["file"] == "interfaces/19-sis-dms.yaml"]
    assert mine and mine[0]["line"] and mine[0]["path"].endswith(".system")
    assert "unknown system 'dsm' (did you mean 'dms'?)" in mine[0]["message"]
