"""A fresh ``koppel run N`` imports the plugins interface N names and no other: running the
data-layer replication (interface 0, db → db) must not pay for SOAP (zeep, lxml), SFTP
(paramiko) or REST (httpx), nor break when one of them is missing or broken; nor SQLAlchemy (~110 ms
of every run's start-up): the db plugin and the state store speak their drivers on a run's path;
nor scan every installed distribution for its plugins (the entry points kept, runtime/registry.py),
nor parse again the files it parsed before (their parses kept by their bytes, runtime/project.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: runs the command in this process, then says which modules it imported (one JSON line, last);
#: the arguments are passed in, as an in-process caller does, so the command returns here (from
#: its own command line, ``koppel run`` ends its process without the interpreter's teardown)
WRAPPER = """
import json, os, sys
import importlib.metadata
groups = []  # the entry-point groups scanned
scan = importlib.metadata.entry_points
importlib.metadata.entry_points = lambda **kw: groups.append(kw.get("group")) or scan(**kw)
if os.environ.get("AS_KOPPEL"):  # as the koppel command starts it (runtime.cli.validate_cache.started_as_koppel)
    sys.argv[0] = os.path.join(os.path.dirname(sys.executable), "koppel")
parsed = []  # the files parsed with PyYAML (not found kept)
if os.environ.get("COUNT_PARSES"):
    from runtime import yamlsource
    parse = yamlsource._load_bytes
    yamlsource._load_bytes = lambda raw, name: parsed.append(name) or parse(raw, name)
from runtime.cli import main
try:
    main(sys.argv[1:], prog_name="koppel")
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules), "groups": groups, "parsed": parsed}))
"""

FOREIGN = ("zeep", "lxml", "paramiko", "httpx", "plugins.soap", "plugins.sftp", "plugins.rest")


def _koppel(project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, set[str], str]:
    code, modules, _, output = _reported(project, *args, env=env)
    return code, modules, output


def _reported(project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, set[str], dict, str]:
    """The exit code, the modules imported, the entry-point groups scanned and the files parsed
    (``groups``, ``parsed``), and the output."""
    # the scratch project's own SIS store and state (var/), whatever the caller's shell points at
    env = {**{k: v for k, v in os.environ.items() if k not in ("KOPPEL_PROJECT", "KOPPEL_ENV", "KOPPEL_SIS_URL",
                                                               "KOPPEL_STATE_URL")}, **(env or {})}
    done = subprocess.run([sys.executable, "-c", WRAPPER, *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.stdout.strip(), done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["code"], set(report["modules"]), report, done.stdout + done.stderr


def test_run_of_a_db_interface_imports_no_soap_sftp_or_rest(project_copy: Path) -> None:
    (project_copy / "var").mkdir(exist_ok=True)
    code, _, output = _koppel(project_copy, "sis", "init")
    assert code == 0, output[-3000:]
    code, modules, output = _koppel(project_copy, "run", "0")
    assert code == 0 and "interface 0: ok" in output, output[-3000:]
    # it did run: the db plugin read the source and wrote the target
    assert {"plugins.db.source", "plugins.db.target"} <= modules
    imported = sorted(m for m in modules if m.split(".")[0] in FOREIGN or m.startswith(FOREIGN))
    assert imported == [], f"koppel run 0 imported {imported}"
    # the next run finds the state database migrated (the first one made its tables) and records
    # its run row, the cursor and the audit entry without SQLAlchemy
    code, modules, output = _koppel(project_copy, "run", "0")
    assert code == 0 and "interface 0: ok" in output, output[-3000:]
    assert "sqlalchemy" not in modules and "alembic" not in modules
    from runtime.engine.audit import entries
    from runtime.engine.state import StateStore

    store = StateStore(f"sqlite:///{project_copy / 'var' / 'koppel.db'}", migrate=False)
    try:
        run, first = store.list_runs(0, limit=2)
        assert first["read"] > 0 and run["read"] == 0  # the first load, then nothing changed
        assert run["outcome"] == "ok" and run["ended_at"] is not None
        assert store.cursor(0, "db") is not None
        assert entries(store, limit=1)[0]["subject"] == f"run {run['id']}"
    finally:
        store.close()


def test_validate_still_knows_every_plugin(project_copy: Path) -> None:
    """The whole project needs every plugin's spec: the counterpart of the test above, so that
    one cannot pass by a registry that loads nothing."""
    code, modules, output = _koppel(project_copy, "validate", "--no-cache")
    assert code == 0, output[-3000:]
    assert {"plugins.soap.spec", "plugins.sftp.spec", "plugins.rest.spec", "plugins.webhook.spec"} <= modules


def test_the_koppel_command_finds_its_plugins_without_scanning_every_distribution(project_copy: Path,
                                                                                   tmp_path: Path) -> None:
    """The entry points are kept in the cache folder (runtime/registry.py): a second ``koppel
    run 0`` reads them there instead of importlib.metadata's scan of every installed
    distribution (pydantic's own scan for its plugins is pydantic's). The first one scans."""
    (project_copy / "var").mkdir(exist_ok=True)
    env = {"AS_KOPPEL": "1", "KOPPEL_CACHE_DIR": str(tmp_path / "cache")}
    code, _, _, output = _reported(project_copy, "sis", "init", env=env)
    assert code == 0, output[-3000:]
    code, _, groups, output = _reported(project_copy, "run", "0", env=env)
    assert code == 0 and "interface 0: ok" in output, output[-3000:]
    assert list((tmp_path / "cache").glob("plugins-*.json")), "nothing kept"
    code, modules, groups, output = _reported(project_copy, "run", "0", env=env)
    assert code == 0 and "interface 0: ok" in output, output[-3000:]
    assert {"plugins.db.source", "plugins.db.target"} <= modules
    assert "koppel.plugins" not in groups["groups"], groups
    # the same command in a process that is not the koppel command scans, as before
    code, _, groups, output = _reported(project_copy, "run", "0")
    assert code == 0 and "koppel.plugins" in groups["groups"], output[-3000:]


def test_the_koppel_command_finds_the_files_it_parsed_before_kept(project_copy: Path, tmp_path: Path) -> None:
    """Each file's parse is kept in the cache folder by its bytes (runtime/project.py's
    _keep_parses, validate's per-file artifacts): a second ``koppel run 0`` parses no YAML
    (catalog.yaml alone took ~20 ms); an edited file is parsed again, the others not."""
    (project_copy / "var").mkdir(exist_ok=True)
    env = {"AS_KOPPEL": "1", "KOPPEL_CACHE_DIR": str(tmp_path / "cache"), "COUNT_PARSES": "1"}
    code, _, _, output = _reported(project_copy, "sis", "init", env=env)
    assert code == 0, output[-3000:]
    code, _, first, output = _reported(project_copy, "run", "0", env=env)
    assert code == 0 and "interface 0: ok" in output, output[-3000:]
    assert {"catalog.yaml", "interfaces/00-sis-datalaag.yaml"} <= set(first["parsed"])
    code, _, again, output = _reported(project_copy, "run", "0", env=env)
    assert code == 0 and "interface 0: ok" in output, output[-3000:]
    assert again["parsed"] == []
    interface = project_copy / "interfaces" / "00-sis-datalaag.yaml"
    interface.write_text(interface.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    code, _, edited, output = _reported(project_copy, "run", "0", env=env)
    assert code == 0 and edited["parsed"] == ["interfaces/00-sis-datalaag.yaml"], output[-3000:]
    # KOPPEL_VALIDATE_CACHE=off keeps and reads none; nor does a process that is not the command
    off = {**env, "KOPPEL_VALIDATE_CACHE": "off"}
    assert "catalog.yaml" in _reported(project_copy, "run", "0", env=off)[2]["parsed"]
    assert "catalog.yaml" in _reported(project_copy, "run", "0", env={"COUNT_PARSES": "1"})[2]["parsed"]
