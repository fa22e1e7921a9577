"""The README's first command: `koppel demo` runs the whole college to the end, every active
interface reports ok. Run in a copy of the project, on the catalog's own sandbox ports: in a network
namespace of its own where that can be made (``unshare -n``, as root: CI and the workplace), so that
another test, a second pytest worker or a developer's demo on the same machine cannot hold them;
elsewhere on the machine's loopback, skipped when one of them is taken."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, copy_project


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _own_network() -> list[str]:
    """The command prefix that runs a command in a network namespace of its own with its loopback
    up, or [] where that cannot be made (not root, no unshare or ip, namespaces not allowed)."""
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("ip")):
        return []
    prefix = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "own-network"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=30)
    return prefix if probe.returncode == 0 else []


@pytest.mark.slow
def test_demo_runs_every_active_interface_to_ok(tmp_path: Path) -> None:
    prefix = _own_network()
    taken = [] if prefix else [p for p in (8470, 8501, 8514, 8521, 2222) if not _free(p)]
    if taken:
        pytest.skip(f"the demo uses the catalog's sandbox ports; these are taken here: {taken}")
    copy_project(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPPEL_")}
    env["KOPPEL_SPECS_DIR"] = str(ROOT.parent / "shared" / "specs")
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "runtime.cli.__main__", "--project", str(tmp_path), "demo", "--students", "40"],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if re.match(r"^\d+\s", line)]
    assert len(rows) == 28
    outcomes = {int(line.split()[0]): line.split()[-1] for line in rows}
    assert outcomes.pop(20) == "planned"
    assert set(outcomes.values()) == {"ok"}, outcomes
    assert "koppel runs" in result.stdout and "koppel deadletters list" in result.stdout
    assert (tmp_path / "var" / "demo.log").exists()
