"""Engine throughput and memory: records/s through the full pipeline (ledger, lineage, cursor
commit per batch) and peak memory for a small and a ten-times-larger run.

A generated source (records made on the fly, nothing held) feeds a target that accepts all;
the state is SQLite in a temporary folder. Memory must stay flat: the ratio of the peak RSS
growth of the large run to that of the small run should be near 1, not near 10.

    .venv/bin/python bench/bench_engine.py [--small 20000] [--factor 10] [--ledger on|off]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(n: int, ledger: bool) -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(1, str(ROOT / "tests" / "engine"))
    from collections.abc import Iterator
    from typing import Literal

    import engine_fakes

    from runtime.engine import Engine
    from runtime.models.interface import SpecBase
    from runtime.plugin import Batch, Outcome, Plugin, Record, Source, Target

    class GenSpec(SpecBase):
        type: Literal["gen"]
        n: int

    class Gen(Source):
        def __init__(self, spec, ctx):
            self.n, self.size = spec.n, ctx.options["batch_size"]

        def read(self, cursor) -> Iterator[Batch]:
            start = int(cursor or 0)
            for i in range(start, self.n, self.size):
                hi = min(self.n, i + self.size)
                yield Batch([Record(f"s{j}", {"id": f"s{j}", "name": f"Student {j}", "n": j, "city": "Den Bosch"})
                             for j in range(i, hi)], cursor=str(hi))

    class Sink(Target):
        def write(self, items):
            return [Outcome(reference=None) for _ in items]

    reg = engine_fakes.registry({
        "gen": Plugin("gen", "generated", source_spec=GenSpec, create_source=lambda s, c: Gen(s, c)),
        "memtarget": Plugin("memtarget", "accepts all", target_spec=engine_fakes.MemoryTargetSpec,
                            create_target=lambda s, c: Sink()),
    })
    folder = Path(tempfile.mkdtemp())
    project = engine_fakes.make_project(folder, reg, [{
        "id": 0, "source": {"type": "gen", "n": n}, "targets": [{"type": "memtarget", "name": "x"}],
        "delivery": {"batch_size": 1000, "ledger": ledger}}])
    engine = Engine(project, reg, state_url=f"sqlite:///{folder / 'state.db'}")
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    summary = engine.run_interface(0)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"n": n, "delivered": summary.delivered, "seconds": seconds, "growth_kb": peak - base, "peak_kb": peak}))


def measure(n: int, ledger: bool) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(n), "--ledger", "on" if ledger else "off"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--ledger", choices=["on", "off", "both"], default="both")
    parser.add_argument("--child", type=int)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.ledger == "on")
        return
    for ledger in ([True, False] if args.ledger == "both" else [args.ledger == "on"]):
        small, large = measure(args.small, ledger), measure(args.small * args.factor, ledger)
        label = "ledger on " if ledger else "ledger off"
        for r in (small, large):
            print(f"{label} n={r['n']:>8,}  {r['n'] / r['seconds']:>9,.0f} records/s  peak RSS {r['peak_kb'] / 1024:6.1f} MB "
                  f"(+{r['growth_kb'] / 1024:5.1f} MB during the run)")
        ratio = max(large["growth_kb"], 1) / max(small["growth_kb"], 1)
        print(f"{label} memory growth ratio large/small = {ratio:.2f} (flat ≈ 1; proportional would be {args.factor})")


if __name__ == "__main__":
    main()
