"""Start-up: ``koppel validate`` of the project against a bare ``python -c pass``, each a fresh
process run from the project root, interleaved, medians (the issue's check: seven of each).
Goal: within 15x.

Stands for: ``koppel validate`` typed by a user (every file of the project loaded and checked:
catalog, 28 interfaces, 50 mappings with their value maps, tests and contracts). Rows:

- ``koppel validate``: as typed. Its verdict is kept (runtime/cli/validate_cache.py) in a cache
  folder of this run's own, so the first round validates and the others find the files unchanged;
- ``koppel validate --no-cache``: the validation itself, every round;
- ``python -c "import runtime.project"``: what loading the definitions imports, for reference.

    .venv/bin/python bench/bench_startup.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KOPPEL = str(ROOT / ".venv" / "bin" / "koppel")


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "koppel validate": [KOPPEL, "validate"],
        "koppel validate --no-cache": [KOPPEL, "validate", "--no-cache"],
        "import runtime.project": [sys.executable, "-c", "import runtime.project"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    loads = []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as cache:
        env = {**os.environ, "KOPPEL_CACHE_DIR": cache}
        print(f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
        for _ in range(args.rounds):  # interleaved: drift of the shared machine hits all alike
            loads.append(os.getloadavg()[0])
            for name, argv in commands.items():
                times[name].append(timed(argv, env))
    bare = statistics.median(times["python -c pass"])
    for name, values in times.items():
        median = statistics.median(values)
        spread = f"{min(values):.2f}-{max(values):.2f}"
        print(f"{name:28} {median:6.2f} s  {median / bare:5.1f}x a bare python   (range {spread} s)")
    print(f"goal: koppel validate within 15x; load average {statistics.median(loads):.1f} over {args.rounds} rounds "
          f"(at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())})")


if __name__ == "__main__":
    main()
