"""`koppel new interface` writes a skeleton that validates and tests green at once (issue 14)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _koppel(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime.cli", "--project", str(project), *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.parametrize("source, target", [("sis", "rest"), ("webhook", "sis"), ("sis", "sftp")])
def test_a_new_interface_skeleton_validates_and_its_cases_pass(project_copy: Path, source: str, target: str) -> None:
    made = _koppel(project_copy, "new", "interface", "31", "sis-bibliotheek", "--source", source, "--target", target,
                   "--system", "bibliotheek")
    assert made.returncode == 0, made.stderr
    assert "wrote interfaces/31-sis-bibliotheek.yaml" in made.stdout
    assert "added interface 31 and system 'bibliotheek' to catalog.yaml" in made.stdout
    validated = _koppel(project_copy, "validate")
    assert validated.returncode == 0, validated.stdout
    assert "29 interfaces" in validated.stdout
    tested = _koppel(project_copy, "test", "sis-bibliotheek")
    assert tested.returncode == 0 and " passed, 0 failed" in tested.stdout, tested.stdout


def test_new_interface_refuses_a_taken_number_and_writes_nothing(project_copy: Path) -> None:
    before = (project_copy / "catalog.yaml").read_text(encoding="utf-8")
    made = _koppel(project_copy, "new", "interface", "24", "sis-dubbel")
    assert made.returncode == 1
    assert "catalog.yaml has interface 24 already" in made.stderr
    assert (project_copy / "catalog.yaml").read_text(encoding="utf-8") == before
    assert not list((project_copy / "interfaces").glob("24-sis-dubbel*"))
