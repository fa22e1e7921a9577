"""Start-up: ``koppel validate`` of the project against a bare ``python -c pass``, each a fresh
process, interleaved, medians (the issue's check: seven of each). Goal: within 15x.

Stands for: ``koppel validate`` typed by a user (every file of the project loaded and checked:
catalog, 28 interfaces, 50 mappings with their value maps, tests and contracts). Also times
``python -c "import runtime.project"`` (what loading the definitions imports) for reference.

    .venv/bin/python bench/bench_startup.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KOPPEL = str(ROOT / ".venv" / "bin" / "koppel")


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
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
        "koppel validate": [KOPPEL, "--project", str(ROOT), "validate", "-q"],
        "import runtime.project": [sys.executable, "-c", "import runtime.project"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    loads = []
    for _ in range(args.rounds):  # interleaved: drift of the shared machine hits all alike
        loads.append(os.getloadavg()[0])
        for name, argv in commands.items():
            times[name].append(timed(argv))
    bare = statistics.median(times["python -c pass"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:24} {median:6.2f} s  {median / bare:5.1f}x a bare python")
    print(f"goal: koppel validate within 15x; load average {statistics.median(loads):.1f} over {args.rounds} rounds")


if __name__ == "__main__":
    main()
