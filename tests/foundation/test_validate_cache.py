"""`koppel validate` keeps its verdict (runtime/cli/validate_cache.py): a second run on the same
files prints the kept verdict, and any change of what validation reads gives a fresh one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

KOPPEL = [sys.executable, "-m", "runtime.cli.__main__"]
SENTINEL = {"file": "kept.yaml", "line": 1, "column": 1, "path": "", "message": "the kept verdict"}


@pytest.fixture
def env(tmp_path_factory) -> dict[str, str]:
    """The cache and a specs folder of this test's own, outside the project (tmp_path)."""
    return {**os.environ, "KOPPEL_CACHE_DIR": str(tmp_path_factory.mktemp("cache")),
            "KOPPEL_SPECS_DIR": str(tmp_path_factory.mktemp("specs"))}


def validate(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*KOPPEL, "--project", str(project), "validate", "--format", "json", *args],
                          capture_output=True, text=True, timeout=300, env=env)


def problems(result: subprocess.CompletedProcess) -> list[dict]:
    return json.loads(result.stdout)["problems"]


def kept(env: dict[str, str]) -> list[Path]:
    return sorted(Path(env["KOPPEL_CACHE_DIR"]).glob("validate-*.json"))


def plant_sentinel(env: dict[str, str]) -> None:
    """Change the kept verdict on disk: a run that prints it did not validate again."""
    [file] = kept(env)
    stored = json.loads(file.read_text(encoding="utf-8"))
    stored["result"]["problems"] = [SENTINEL]
    file.write_text(json.dumps(stored), encoding="utf-8")


def test_a_second_run_prints_the_kept_verdict(project_copy: Path, env: dict[str, str]) -> None:
    first = validate(project_copy, env)
    assert first.returncode == 0, first.stderr
    assert len(kept(env)) == 1
    second = validate(project_copy, env)
    assert second.stdout == first.stdout and second.returncode == 0
    plant_sentinel(env)
    assert problems(validate(project_copy, env)) == [SENTINEL]
    fresh = validate(project_copy, env, "--no-cache")
    assert fresh.stdout == first.stdout, "--no-cache validates, whatever is kept"


def test_an_edit_of_the_same_size_right_after_is_seen(project_copy: Path, env: dict[str, str]) -> None:
    assert validate(project_copy, env).returncode == 0
    plant_sentinel(env)
    mapping = project_copy / "mappings" / "vva-status.yaml"
    text = mapping.read_text(encoding="utf-8")
    mapping.write_text(text.replace("name: vva-status", "name: vva-statux", 1), encoding="utf-8")  # same size
    found = problems(validate(project_copy, env))
    assert [p["message"] for p in found] == ["name must be 'vva-status', the file name without .yaml"]


@pytest.mark.parametrize("change", ["added interface file", "removed test file", "spec file", "KOPPEL_ variable"])
def test_each_kind_of_change_gives_a_fresh_verdict(project_copy: Path, env: dict[str, str], change: str) -> None:
    assert validate(project_copy, env).returncode == 0
    plant_sentinel(env)
    if change == "added interface file":
        (project_copy / "interfaces" / "99-nieuw.yaml").write_text("id: 99\n", encoding="utf-8")
    elif change == "removed test file":
        (project_copy / "mappings" / "tests" / "vva-status.yaml").unlink()
    elif change == "spec file":
        (Path(env["KOPPEL_SPECS_DIR"]) / "new.xsd").write_text("<x/>", encoding="utf-8")
    else:
        env = {**env, "KOPPEL_SOMETHING": "1"}
    assert SENTINEL not in problems(validate(project_copy, env))


def test_a_definition_reading_outside_the_project_is_not_kept(project_copy: Path, env: dict[str, str],
                                                              tmp_path_factory) -> None:
    schema = tmp_path_factory.mktemp("elsewhere") / "schema.json"
    schema.write_text('{"type": "object"}', encoding="utf-8")
    (project_copy / "mappings" / "buiten.yaml").write_text(
        f"name: buiten\noutput: {{id: id}}\ncontract: {{json_schema_file: '{schema}'}}\n", encoding="utf-8")
    assert validate(project_copy, env).returncode == 0
    assert kept(env) == [], "a file outside every fingerprinted folder: nothing may be kept"
    schema.write_text('{"type": "objekt"}', encoding="utf-8")
    assert "the contract's JSON Schema is invalid" in problems(validate(project_copy, env))[0]["message"]


def test_an_in_process_caller_always_validates(project_copy: Path, env: dict[str, str], monkeypatch) -> None:
    """CliRunner (and any caller in the same process) may have changed plugins in memory."""
    from click.testing import CliRunner

    from runtime.cli import main

    assert validate(project_copy, env).returncode == 0
    plant_sentinel(env)
    monkeypatch.setenv("KOPPEL_CACHE_DIR", env["KOPPEL_CACHE_DIR"])
    monkeypatch.setenv("KOPPEL_SPECS_DIR", env["KOPPEL_SPECS_DIR"])
    result = CliRunner().invoke(main, ["--project", str(project_copy), "validate", "--format", "json"])
    assert json.loads(result.output)["problems"] == []


def test_the_cache_folder_keeps_only_the_latest_verdicts(project_copy: Path, env: dict[str, str]) -> None:
    folder = Path(env["KOPPEL_CACHE_DIR"])
    for i in range(70):  # what many scratch projects (test runs) leave behind
        (folder / f"validate-old{i:02d}.json").write_text("{}", encoding="utf-8")
        os.utime(folder / f"validate-old{i:02d}.json", ns=(i, i))
    assert validate(project_copy, env).returncode == 0
    left = kept(env)
    assert len(left) == 64 and not (folder / "validate-old00.json").exists()
    assert any(not p.name.startswith("validate-old") for p in left), "the new verdict is kept"
