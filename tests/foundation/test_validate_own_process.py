"""``koppel validate`` as a user starts it, from its own command line: validated with the cyclic
garbage collector paused and ended without the interpreter's teardown (runtime/cli/definitions.py),
yet with its report, its exit code, its kept verdict and its atexit handlers as before; an
in-process caller gets its collector back."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

#: the console script's way in (``main()`` with no arguments: the process's own command line), with
#: an atexit handler of the kind logging and tracing exporters register
ENTRY = """
import atexit, sys
atexit.register(lambda: print("atexit handler ran", file=sys.stderr, flush=True))
from runtime.cli import main
sys.argv = ["koppel", *sys.argv[1:]]
sys.exit(main())
"""


def _koppel(project: Path, cache: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("KOPPEL_PROJECT", "KOPPEL_ENV")}
    env["KOPPEL_CACHE_DIR"] = str(cache)
    return subprocess.run([sys.executable, "-c", ENTRY, "--project", str(project), *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_clean_project_reports_ok_keeps_its_verdict_and_runs_the_exit_handlers(project_copy: Path,
                                                                                   tmp_path_factory) -> None:
    cache = tmp_path_factory.mktemp("cache")
    done = _koppel(project_copy, cache, "validate")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "\nok: " in done.stdout and "atexit handler ran" in done.stderr
    assert len(list(cache.glob("validate-*.json"))) == 1, "the verdict was written before the process ended"
    again = _koppel(project_copy, cache, "validate")
    assert again.returncode == 0 and again.stdout == done.stdout


def test_a_broken_project_keeps_exit_code_one_and_every_line(project_copy: Path, tmp_path_factory) -> None:
    cache = tmp_path_factory.mktemp("cache")
    mapping = project_copy / "mappings" / "vva-status.yaml"
    mapping.write_text(mapping.read_text(encoding="utf-8").replace("name: vva-status", "name: vva-statux", 1),
                       encoding="utf-8")
    done = _koppel(project_copy, cache, "validate", "--format", "json")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert [p["message"] for p in report["problems"]] == ["name must be 'vva-status', the file name without .yaml"]
    text = _koppel(project_copy, cache, "validate")
    assert text.returncode == 1 and "1 problem found" in text.stderr and "atexit handler ran" in text.stderr
    assert "mappings/vva-status.yaml:" in text.stdout


def test_in_process_the_collector_is_switched_back_on(project_copy: Path) -> None:
    from click.testing import CliRunner

    from runtime.cli import main

    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    result = CliRunner().invoke(main, ["--project", str(project_copy), "validate"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # the objects validate froze before the collector resumed are collectable again (gc.unfreeze
    # frees every frozen object, so the count may also drop below what another caller had frozen)
    assert gc.isenabled() and gc.get_freeze_count() <= frozen
    gc.disable()  # a caller that had it off keeps it off
    try:
        CliRunner().invoke(main, ["--project", str(project_copy), "validate"], catch_exceptions=False)
        assert not gc.isenabled()
    finally:
        gc.enable()
