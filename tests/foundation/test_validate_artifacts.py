"""`koppel validate` keeps what it makes of each file that depends only on the file's bytes (the
parsed YAML with its positions or its diagnostics, an OpenAPI document's schema names) in the
cache folder (runtime/cli/validate_cache.py's Artifacts), so after an edit only the edited file is
parsed again. Whatever is kept, the diagnostics must be exactly those of a cold run: --no-cache in
a fresh cache folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime import paths

ROOT = Path(__file__).resolve().parents[2]
KOPPEL = [sys.executable, "-m", "runtime.cli.__main__"]


@pytest.fixture
def env(tmp_path_factory) -> dict[str, str]:
    """The cache folder of this test's own, and the real specs (the OpenAPI contracts are read)."""
    return {**os.environ, "KOPPEL_CACHE_DIR": str(tmp_path_factory.mktemp("cache")),
            "KOPPEL_SPECS_DIR": str(paths.specs_dir(ROOT))}


def validate(project: Path, env: dict[str, str], *args: str) -> dict:
    done = subprocess.run([*KOPPEL, "--project", str(project), "validate", "--format", "json", *args],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def cold(project: Path, env: dict[str, str], tmp_path_factory) -> dict:
    return validate(project, {**env, "KOPPEL_CACHE_DIR": str(tmp_path_factory.mktemp("fresh"))}, "--no-cache")


def artifacts(env: dict[str, str]) -> set[str]:
    return {p.name for p in (Path(env["KOPPEL_CACHE_DIR"]) / "artifacts").glob("*.pickle")}


EDITS = {
    # file, what is replaced, by what: a mistake each kind of check finds
    "expression": ("mappings/vva-status.yaml", '{expr: "aanmeld_id"', '{expr: "aanmeld_id ==="'),
    "YAML syntax": ("interfaces/13-eckid.yaml", "\nname:", "\n  bad: [unclosed\nname:"),
    "duplicate key": ("catalog.yaml", "\n", "\nsystems: {}\n"),
    "value map": ("mappings/valuemaps/aanmeldstatus-sis.yaml", "name: aanmeldstatus-sis", "name: aanmeldstatus"),
    "contract": ("mappings/vva-status.yaml", "    type: object\n", "    type: objekt\n"),
    "cron": ("interfaces/04-sis-website.yaml", 'cron: "0 5 * * *"', 'cron: "0 25 * * *"'),
    # found in files not edited, whose parse (and positions) comes from what was kept
    "system renamed": ("catalog.yaml", "\n  kennisnet:\n", "\n  kennisnet2:\n"),
}


@pytest.mark.parametrize("kind", sorted(EDITS))
def test_an_edit_and_its_fix_give_the_diagnostics_of_a_cold_run(project_copy: Path, env: dict[str, str],
                                                                 tmp_path_factory, kind: str) -> None:
    name, old, new = EDITS[kind]
    file = project_copy / name
    if not file.exists():
        pytest.skip(f"{name} is not in the project")
    first = validate(project_copy, env, "--no-cache")
    assert first == cold(project_copy, env, tmp_path_factory)
    kept = artifacts(env)
    assert len(kept) > 100, "every definition file's parse is kept"
    original = file.read_text(encoding="utf-8")
    assert old in original
    file.write_text(original.replace(old, new, 1), encoding="utf-8")

    broken = validate(project_copy, env)
    assert broken["problems"], f"the {kind} mistake is found"
    if kind == "system renamed":
        assert {p["file"] for p in broken["problems"]} > {"catalog.yaml"} and all(p["line"] for p in broken["problems"])
    assert broken == cold(project_copy, env, tmp_path_factory)
    # only the edited file was parsed again (and a new cron expression checked, an edited mapping
    # compiled again: runtime/mapping/check.py; the mappings using an edited value map are compiled
    # again too, their findings kept in place, by the mapping's bytes)
    new_mapping = name.startswith("mappings/") and not name.startswith("mappings/valuemaps/")
    assert len(artifacts(env) - kept) == (2 if kind == "cron" or new_mapping else 1)

    file.write_text(original, encoding="utf-8")
    fixed = validate(project_copy, env)
    assert fixed == first == cold(project_copy, env, tmp_path_factory)


def test_a_hostile_file_reads_the_same_from_what_is_kept(project_copy: Path, env: dict[str, str],
                                                         tmp_path_factory) -> None:
    bomb = b"a: &a [x, x, x, x, x, x, x, x, x, x]\n" + b"".join(
        b"%c: &%c [" % (97 + i + 1, 97 + i + 1) + b", ".join([b"*%c" % (97 + i)] * 10) + b"]\n" for i in range(6))
    (project_copy / "mappings" / "bomb.yaml").write_bytes(bomb)
    (project_copy / "mappings" / "latin.yaml").write_bytes("name: caf\u00e9\n".encode("latin-1"))
    (project_copy / "mappings" / "twice.yaml").write_text("name: twice\nname: again\noutput: {}\noutput: {}\n",
                                                           encoding="utf-8")
    first = validate(project_copy, env, "--no-cache")
    again = validate(project_copy, env, "--no-cache")
    messages = [p["message"] for p in again["problems"]]
    assert any("aliases expand to more than 100000 values" in m for m in messages)
    assert any("not UTF-8 text" in m for m in messages)
    assert sum("duplicate key" in m for m in messages) == 2
    assert first == again == cold(project_copy, env, tmp_path_factory)


def test_a_kept_artifact_is_what_is_served(project_copy: Path, env: dict[str, str]) -> None:
    """The artifacts are read (not only written): one changed on disk changes the verdict. (Only
    a test does that: a name stands for its bytes and code, and the folder is the user's own.)"""
    import pickle

    validate(project_copy, env, "--no-cache")
    folder = Path(env["KOPPEL_CACHE_DIR"]) / "artifacts"
    planted = 0
    for path in folder.glob("*.pickle"):
        kept = pickle.loads(path.read_bytes())
        data = pickle.loads(kept[1]) if isinstance(kept, tuple) and kept[0] == "parsed" else None
        if isinstance(data, dict) and data.get("name") == "vva-status" and "output" in data:
            path.write_bytes(pickle.dumps(("problems", [(7, 3, "", "the planted artifact")])))
            planted += 1
    assert planted == 1
    found = validate(project_copy, env, "--no-cache")["problems"]
    assert {"file": "mappings/vva-status.yaml", "line": 7, "column": 3, "path": "",
            "message": "the planted artifact"} in found
    assert validate(project_copy, {**env, "KOPPEL_VALIDATE_CACHE": "off"})["problems"] == []


def test_a_folder_others_may_write_to_is_not_read(tmp_path: Path) -> None:
    from runtime.cli.validate_cache import Artifacts

    folder = tmp_path / "cache" / "artifacts"
    store = Artifacts(folder)
    store.put("yaml", "v", b"d", ("parsed", b"", {}, {}))
    assert Artifacts(folder).get("yaml", "v", b"d") == ("parsed", b"", {}, {})
    os.chmod(folder, 0o777)
    assert Artifacts(folder).get("yaml", "v", b"d") is None
    os.chmod(folder, 0o700)
    os.chmod(folder.parent, 0o777)
    assert Artifacts(folder).get("yaml", "v", b"d") is None


def test_the_oldest_artifacts_go_first(tmp_path: Path, monkeypatch) -> None:
    from runtime.cli import validate_cache

    monkeypatch.setattr(validate_cache, "KEEP_ARTIFACTS", 10)
    folder = tmp_path / "artifacts"
    folder.mkdir(mode=0o700)
    for i in range(12):
        (folder / f"old{i:02d}.pickle").write_bytes(b"")
        os.utime(folder / f"old{i:02d}.pickle", ns=(i, i))
    validate_cache.Artifacts(folder).put("yaml", "v", b"new", 1)
    left = sorted(p.name for p in folder.glob("*.pickle"))
    assert len(left) == 5 and "old11.pickle" in left and "old00.pickle" not in left


def _load(path: Path):  # noqa: ANN202
    from runtime import yamlsource

    yamlsource._PARSED.clear()  # this process's own memo: the kept artifact is what is read
    try:
        doc = yamlsource.load_file(path, path.name)
    except yamlsource.YamlProblem as exc:
        return [str(d) for d in exc.diagnostics]
    return doc.data, doc.positions, doc.key_positions


def test_a_kept_parse_is_the_parse(tmp_path: Path, monkeypatch) -> None:
    from runtime import yamlsource
    from runtime.cli.validate_cache import Artifacts

    hostile = tmp_path / "hostile"
    hostile.mkdir()
    (hostile / "twice.yaml").write_text("a: 1\na: 2\nb: [1, {c: 2}]\nb: 3\n", encoding="utf-8")
    (hostile / "tag.yaml").write_text("a: !!python/object:os.system x\n", encoding="utf-8")
    (hostile / "deep.yaml").write_text("a: " + "[" * 70 + "]" * 70 + "\n", encoding="utf-8")
    (hostile / "nul.yaml").write_bytes(b"a: 1\n\x00\n")
    files = sorted(ROOT.glob("interfaces/*.yaml"))[:6] + sorted(ROOT.glob("mappings/*.yaml"))[:6] \
        + [ROOT / "catalog.yaml", *sorted(hostile.iterdir())]
    monkeypatch.setattr(yamlsource, "artifacts", None)
    expected = [_load(path) for path in files]
    monkeypatch.setattr(yamlsource, "artifacts", Artifacts(tmp_path / "cache" / "artifacts"))
    assert [_load(path) for path in files] == expected  # parsed, and kept
    parsed: list[str] = []
    original = yamlsource._load_bytes
    monkeypatch.setattr(yamlsource, "_load_bytes", lambda raw, name: parsed.append(name) or original(raw, name))
    assert [_load(path) for path in files] == expected  # read from what was kept
    assert parsed == []


def test_a_kept_cron_verdict_is_the_parsers(tmp_path: Path, monkeypatch) -> None:
    from runtime import cronexpr, yamlsource
    from runtime.cli.validate_cache import Artifacts
    from runtime.models.interface import CronTrigger

    def verdict(expression: str) -> str:
        try:
            CronTrigger.model_validate({"type": "cron", "cron": expression})
        except Exception as exc:  # noqa: BLE001 - pydantic's ValidationError: its text is compared
            return str(exc).splitlines()[2]
        return "ok"

    expressions = ["0 5 * * *", "0 25 * * *", "0 2 * * 7", "0 2 * * 8", "*/15 8-17 * * 1-5", "0 2 * *"]
    monkeypatch.setattr(yamlsource, "artifacts", None)
    expected = [verdict(e) for e in expressions]
    assert expected[0] == "ok" and "invalid cron expression '0 25 * * *'" in expected[1]
    monkeypatch.setattr(yamlsource, "artifacts", Artifacts(tmp_path / "artifacts"))
    assert [verdict(e) for e in expressions] == expected  # checked, and kept

    def not_again(expression: str) -> None:
        raise AssertionError("checked again")

    monkeypatch.setattr(cronexpr, "check_cron", not_again)
    assert [verdict(e) for e in expressions] == expected  # served from what was kept


def test_a_new_cache_folder_is_made_private_whatever_the_umask(tmp_path: Path) -> None:
    from runtime.cli.validate_cache import Artifacts

    old = os.umask(0o002)  # a user's private group: new folders group-writable
    try:
        store = Artifacts(tmp_path / "new-cache" / "artifacts")
        store.put("yaml", "v", b"d", 1)
    finally:
        os.umask(old)
    assert store.get("yaml", "v", b"d") == 1
    assert (tmp_path / "new-cache").stat().st_mode & 0o077 == 0
