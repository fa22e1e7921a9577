"""`koppel validate` keeps its verdict also where Python keeps bytecode elsewhere
(PYTHONPYCACHEPREFIX): the bytecode it reads there stands for Koppel's own sources, which the
fingerprint covers, as it does in a ``__pycache__`` folder beside them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SENTINEL = {"file": "kept.yaml", "line": 1, "column": 1, "path": "", "message": "the kept verdict"}


def _validate(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime.cli.__main__", "--project", str(project), "validate",
                           "--format", "json"], capture_output=True, text=True, timeout=300, env=env)


def test_the_verdict_is_kept_with_a_bytecode_prefix(project_copy: Path, tmp_path_factory) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cache = tmp_path_factory.mktemp("cache")
    env.update(KOPPEL_CACHE_DIR=str(cache), KOPPEL_SPECS_DIR=str(tmp_path_factory.mktemp("specs")),
               PYTHONPYCACHEPREFIX=str(tmp_path_factory.mktemp("pyc")))
    for _ in range(2):  # the first writes the bytecode while it validates: then nothing is kept
        done = _validate(project_copy, env)
        assert done.returncode == 0, done.stderr
    files = sorted(cache.glob("validate-*.json"))
    assert len(files) == 1, "no verdict kept under PYTHONPYCACHEPREFIX"
    file = files[0]
    stored = json.loads(file.read_text(encoding="utf-8"))
    stored["result"]["problems"] = [SENTINEL]
    file.write_text(json.dumps(stored), encoding="utf-8")
    assert json.loads(_validate(project_copy, env).stdout)["problems"] == [SENTINEL]
