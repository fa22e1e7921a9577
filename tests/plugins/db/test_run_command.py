"""``koppel run 0`` as a user starts it, from its own command line: the process ends without the
interpreter's teardown (runtime/cli/__init__.py, ``end_without_teardown``), yet with the exit code
the run earned, its summary and log lines written, and its atexit handlers run."""

from __future__ import annotations

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


def _koppel(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("KOPPEL_PROJECT", "KOPPEL_ENV", "KOPPEL_SIS_URL",
                                                            "KOPPEL_STATE_URL")}
    return subprocess.run([sys.executable, "-c", ENTRY, "--project", str(project), *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_run_from_its_own_command_line_ends_with_its_code_output_and_exit_handlers(project_copy: Path) -> None:
    (project_copy / "var").mkdir(exist_ok=True)
    assert _koppel(project_copy, "sis", "init").returncode == 0
    done = _koppel(project_copy, "run", "0")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "interface 0: ok" in done.stdout
    assert '"msg": "run finished"' in done.stderr and "atexit handler ran" in done.stderr
    again = _koppel(project_copy, "run", "0")  # the state it left is whole: the next run reads on
    assert again.returncode == 0 and "interface 0: ok" in again.stdout, again.stderr[-2000:]


def test_a_run_that_fails_keeps_its_exit_code(project_copy: Path) -> None:
    (project_copy / "var").mkdir(exist_ok=True)
    assert _koppel(project_copy, "sis", "init").returncode == 0
    (project_copy / "var" / "datalaag.db").mkdir()  # the data layer cannot be opened
    done = _koppel(project_copy, "run", "0")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "atexit handler ran" in done.stderr
