"""Start-up: ``koppel validate`` of the project against a bare ``python -c pass``, each a fresh
process run from the project root, interleaved, medians (the issue's check: seven of each).
Goal: within 15x, also when it really validates (an edited project, ``--no-cache``).

Stands for: ``koppel validate`` typed by a user (every file of the project loaded and checked:
catalog, 28 interfaces, 53 mappings with their value maps, tests and contracts). Rows:

- ``koppel validate``: as typed, nothing changed. Its verdict is kept (runtime/cli/validate_cache.py)
  in a cache folder of this run's own, so the warm-up validates and the rounds find the files
  unchanged and print the kept verdict;
- ``koppel validate, one file edited``: as typed after an edit: before each round (untimed) one
  line is added to one mapping, so the verdict is not kept and everything is checked again; each
  file's parse is kept by its content, and each mapping's compiled check with the value maps it
  read (runtime/mapping/check.py), so only the edited file is parsed and compiled again. Runs on a copy of
  the definitions (catalog.yaml, interfaces/, mappings/, contracts/; the specs by KOPPEL_SPECS_DIR),
  never editing the checkout; the fingerprint of that copy covers fewer files than the checkout's;
- ``koppel validate --no-cache``: every check, every round; the files' parses and the mappings'
  compiled checks as kept by the rounds before (nothing changed);
- ``koppel validate --no-cache, cold``: nothing kept at all: a new, empty cache folder each round
  (the parses are made and written, as on a first run);
- ``python -c "import runtime.project"``: what loading the definitions imports, for reference.

Every command runs with its bytecode cached, as an installed Koppel does: a shell with
``PYTHONDONTWRITEBYTECODE=1`` (this workplace's) would otherwise compile Koppel's own ~80 modules
from source in every process (about 0.4 s of CPU) and time that instead. The cache is a folder of
the run's own (``PYTHONPYCACHEPREFIX``), filled by one untimed warm-up of each command.

    .venv/bin/python bench/bench_startup.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KOPPEL = str(ROOT / ".venv" / "bin" / "koppel")
sys.path.insert(0, str(ROOT))
from runtime.paths import specs_dir  # noqa: E402


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one fresh process: on a shared, loaded machine
    the wall time is mostly waiting for a core, the CPU time is the command's own work."""
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr[-2000:]}")
    return elapsed, _children_cpu() - cpu


DEFINITIONS = ("catalog.yaml", "interfaces", "mappings", "contracts")
EDITED = Path("mappings") / "vva-status.yaml"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    loads = []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as scratch:
        work = Path(scratch)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(KOPPEL_CACHE_DIR=str(work / "verdicts"), PYTHONPYCACHEPREFIX=str(work / "pyc"))
        copy = work / "project"
        copy.mkdir()
        for name in DEFINITIONS:
            (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, copy / name)
        edited = copy / EDITED
        edits = iter(range(10**6))
        copy_env = {**env, "KOPPEL_SPECS_DIR": str(specs_dir(ROOT)), "KOPPEL_CACHE_DIR": str(work / "copy-cache")}
        colds = iter(range(10**6))

        def edit() -> dict[str, str]:
            with edited.open("a", encoding="utf-8") as handle:
                handle.write(f"# edit {next(edits)}\n")
            return copy_env

        def fresh() -> dict[str, str]:
            return {**env, "KOPPEL_CACHE_DIR": str(work / f"cold-{next(colds)}")}

        commands: dict[str, tuple[list[str], Callable[[], dict[str, str]]]] = {
            "python -c pass": ([sys.executable, "-c", "pass"], lambda: env),
            "koppel validate": ([KOPPEL, "validate"], lambda: env),
            "koppel validate, 1 file edited": ([KOPPEL, "--project", str(copy), "validate"], edit),
            "koppel validate --no-cache": ([KOPPEL, "validate", "--no-cache"], lambda: env),
            "  the same, cold": ([KOPPEL, "validate", "--no-cache"], fresh),
            "import runtime.project": ([sys.executable, "-c", "import runtime.project"], lambda: env),
        }
        times = {name: [] for name in commands}
        cpu = {name: [] for name in commands}
        print(f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
        for _ in range(2):  # untimed: the bytecode written, then the verdict and the parses kept
            for argv, setting in commands.values():
                timed(argv, setting())
        for _ in range(args.rounds):  # interleaved: drift of the shared machine hits all alike
            loads.append(os.getloadavg()[0])
            for name, (argv, setting) in commands.items():
                wall, used = timed(argv, setting())
                times[name].append(wall)
                cpu[name].append(used)
    bare = statistics.median(times["python -c pass"])
    bare_cpu = statistics.median(cpu["python -c pass"])
    for name, values in times.items():
        median, median_cpu = statistics.median(values), statistics.median(cpu[name])
        spread = f"{min(values):.2f}-{max(values):.2f}"
        print(f"{name:31} {median:6.2f} s  {median / bare:5.1f}x a bare python   (range {spread} s); "
              f"CPU {median_cpu:.3f} s = {median_cpu / bare_cpu:5.1f}x (min {min(cpu[name]):.3f} s)")
    print(f"goal: koppel validate within 15x; load average {statistics.median(loads):.1f} over {args.rounds} rounds "
          f"(at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())})")


if __name__ == "__main__":
    main()
