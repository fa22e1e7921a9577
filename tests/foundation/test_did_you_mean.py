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
    assert any(":output.crebo.expr: unknown function pad_lefft(); did you mean pad_left()?" in line
               or "output.crebo.expr: unknown function pad_lefft(); did you mean pad_left()?" in line for line in lines), lines
    assert any("output.leerweg.valuemap: unknown value map 'leertrajct' (did you mean 'leertraject'?" in line
               for line in lines), lines
