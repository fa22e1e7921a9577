"""Delivery under faults (issue 10), at full scale, through the real rest plugin and engine.

Three figures, each with a plain baseline measured in the same run:

1. 30% of requests answered 503 (interface-24-like: one PUT per record, --records 167 changed
   enrollments, some refused with 422): records delivered / dead / duplicated at the target, the
   dead letters' classes, and records/s against the same run without faults.
2. 30% answered 429 with ``Retry-After: 1``: records/s, against the run without faults (before
   per-record retry clocks this crawled at ~1.5 records/s).
3. SIGKILL of a run faster than a batch (tests/engine/engine_crash_worker.py: 500-record batches,
   state on PostgreSQL): re-sent records per kill with ``commit_every`` 50 against
   ``commit_every`` = the batch size (what a crash re-sent before, the baseline), and whether the
   cursor moved after every kill. Skipped without PostgreSQL.

    .venv/bin/python bench/bench_faults.py [--records 167] [--kills 5]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "engine"), str(ROOT / "tests" / "faultkit"),
                str(ROOT / "tests" / "faults")]

from faultcheck import rest_engine  # noqa: E402
from proxy import Faults, FaultyStore  # noqa: E402

from runtime.engine.deadletters import DeadLetters  # noqa: E402
from runtime.plugin import Record  # noqa: E402

RETRIES = {"max_attempts": 12, "initial_delay": 0.2, "max_delay": 5.0}  # the college's own scale


def _records(n: int) -> list[Record]:
    return [Record(key=f"S{100000 + i}", object="enrollment",
                   data={"id": f"S{100000 + i}", "crebo": "25187", "status": "actief"}) for i in range(n)]


def deliver(n: int, faults: Faults, reject: set[str]) -> dict:
    records = _records(n)
    with tempfile.TemporaryDirectory() as tmp, FaultyStore(faults, reject=reject) as store:
        engine = rest_engine(Path(tmp), store.url, records, retries=RETRIES, timeout=5.0)
        started = time.perf_counter()
        try:
            summary = engine.run_interface(24)
            letters = DeadLetters(engine).list(limit=100_000)
        finally:
            engine.close()
        seconds = time.perf_counter() - started
        accepted = set(store.applied)
        return {
            "delivered": summary.delivered, "dead": summary.dead, "seconds": seconds,
            "rate": n / seconds, "repeats": store.repeats, "injected": dict(store.injected),
            "arrived": sum(1 for r in records if r.key in accepted),
            "dead_classes": sorted({d["error_class"] for d in letters}),
            "dead_but_accepted": sum(1 for d in letters if d["source_key"] in accepted),
            "reasons_own": all(d["source_key"] in d["reason"] for d in letters),
        }


def crash_duplicates(kills: int, commit_every: int, n: int = 6000) -> dict | None:
    try:
        import psycopg
    except ImportError:
        return None
    import uuid

    import engine_http
    import engine_sqlrows

    admin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    try:
        connection = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        return None
    name = f"koppel_bench_faults_{uuid.uuid4().hex[:8]}"
    connection.execute(f'CREATE DATABASE "{name}"')
    state_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    state = engine_http.TargetState(transient_fraction=0.05)
    server, url = engine_http.start_server(state)
    rng = random.Random(2026)
    cursors, repeats = [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            source_url = f"sqlite:///{Path(tmp) / 'source.db'}"
            engine_sqlrows.create_table(source_url, n)
            worker = ROOT / "tests" / "engine" / "engine_crash_worker.py"
            args = [sys.executable, str(worker), tmp, state_url, source_url, url]
            env = {**os.environ, "PYTHONPATH": str(ROOT), "KOPPEL_LEASE_TTL": "1.5", "KOPPEL_CRASH_BATCH": "500",
                   "KOPPEL_CRASH_COMMIT_EVERY": str(commit_every)}
            for _ in range(kills):
                before, goal = state.duplicates, len(state.applied) + rng.randint(100, 450)  # < a batch
                proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                while proc.poll() is None and len(state.applied) < goal:
                    time.sleep(0.005)
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                repeats.append(state.duplicates - before)
                cursors.append(_cursor(state_url))
            before = state.duplicates
            subprocess.run(args, env=env, capture_output=True, timeout=600, check=True)
            repeats.append(state.duplicates - before)
    finally:
        server.shutdown()
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.close()
    lost = n - len(state.source_keys)
    advancing = all(b > a for a, b in zip([0, *cursors], cursors))
    # repeats[i] is what run i+1 re-sent of kill i's unrecorded work
    per_kill = repeats[1:]
    return {"lost": lost, "per_kill": per_kill, "mean": sum(per_kill) / len(per_kill), "cursors": cursors,
            "advancing": advancing}


def _cursor(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as c:
            return int(c.execute(text("SELECT cursor FROM koppel_cursors WHERE interface_id = 1")).scalar() or 0)
    finally:
        engine.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=167)
    p.add_argument("--kills", type=int, default=5)
    args = p.parse_args()
    logging.disable(logging.WARNING)  # dead-letter warnings would drown the figures
    n = args.records
    reject = {f"S{100000 + i}" for i in (7, 42, 99) if i < n}

    deliver(n, Faults(0.0), reject)  # warm-up: imports, first connections
    plain = deliver(n, Faults(0.0), reject)
    flaky = deliver(n, Faults(0.3, ("503",), seed=24), reject)
    print(f"1. 30% 503s, {n} records, {len(reject)} refused (422):")
    print(f"   delivered {flaky['delivered']}, dead {flaky['dead']} (classes {flaky['dead_classes']}), "
          f"duplicated at the target {flaky['repeats']}, arrived {flaky['arrived']}/{n}, "
          f"503s injected {flaky['injected'].get('503', 0)}")
    print(f"   dead yet accepted by the target: {flaky['dead_but_accepted']}; every reason names its record: "
          f"{flaky['reasons_own']}")
    print(f"   {flaky['rate']:.0f} records/s; without faults {plain['rate']:.0f} records/s "
          f"(ratio {flaky['rate'] / plain['rate']:.2f})")

    limited = deliver(n, Faults(0.3, ("429",), seed=24, retry_after="1"), set())
    plain = deliver(n, Faults(0.0), set())
    print(f"2. 30% 429 + Retry-After: 1, {n} records: delivered {limited['delivered']} in "
          f"{limited['seconds']:.1f} s = {limited['rate']:.1f} records/s; without faults "
          f"{plain['rate']:.0f} records/s (ratio {limited['rate'] / plain['rate']:.2f}; before: ~1.5 records/s)")

    stepped = crash_duplicates(args.kills, 50)
    if stepped is None:
        print("3. skipped: PostgreSQL is not reachable on 127.0.0.1:5432")
        return
    whole = crash_duplicates(args.kills, 500)
    print(f"3. {args.kills} SIGKILLs, each after fewer new deliveries than a 500-record batch:")
    print(f"   commit_every 50:  lost {stepped['lost']}, re-sent per kill {stepped['per_kill']} "
          f"(mean {stepped['mean']:.0f}), cursor after each kill {stepped['cursors']} "
          f"(always advancing: {stepped['advancing']})")
    print(f"   commit_every 500 (one commit per batch, the old behaviour): lost {whole['lost']}, re-sent per kill "
          f"{whole['per_kill']} (mean {whole['mean']:.0f}), cursor {whole['cursors']} "
          f"(always advancing: {whole['advancing']})")
    if stepped["mean"]:
        print(f"   re-sends per kill: {whole['mean'] / stepped['mean']:.1f}x fewer with steps of 50")


if __name__ == "__main__":
    main()
