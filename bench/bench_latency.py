"""Latency from commit to delivery for realtime interfaces, at a steady rate of changes.

A writer inserts persons into the SIS store with plain SQL at RATE changes/s for SECONDS; the
database triggers write the outbox; Koppel's realtime loop (outbox subscriber: NOTIFY on
PostgreSQL, polling on SQLite) runs the interface, the sis source reads the changes, and the rest
plugin POSTs each record to a local HTTP target, which notes the arrival time. Latency = arrival
minus the writer's commit. Prints p50/p95/p99/max per database and the ratio of p99 to the
baseline target (1 s).

    .venv/bin/python bench/bench_latency.py [--rate 100] [--seconds 20] [--db sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests" / "engine"))

BASELINE_P99 = 1.0  # seconds: the target for PostgreSQL
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(sis_url: str, state_url: str, rate: float, seconds: float, poll: float) -> list[float]:
    import engine_fakes
    import engine_http
    import engine_outbox
    import plugins.rest
    from sqlalchemy import create_engine, text

    from runtime.engine import Engine
    from runtime.engine.realtime import Realtime
    from runtime.sis import schema

    schema.init(sis_url)
    os.environ["KOPPEL_SIS_URL"] = sis_url
    target = engine_http.TargetState()
    server, url = engine_http.start_server(target)
    source, extra = engine_outbox.sis_source_spec(sis_url, ["person"])
    reg = engine_fakes.registry({"rest": plugins.rest.plugin, **extra})
    root = Path(tempfile.mkdtemp())
    project = engine_fakes.make_project(root, reg, [{
        "id": 11, "type": "realtime", "objects": ["person"],
        "trigger": {"type": "outbox", "objects": ["person"], "poll": poll},
        "source": source, "targets": [{"type": "rest", "system": "peer", "path": "/items"}]}],
        systems={"peer": {"url": url, "auth": {"type": "none"}}})
    engine = Engine(project, reg, state_url=state_url)
    realtime = Realtime(engine)
    realtime.start()
    while engine.store.cursor(11, source["type"]) is None:
        time.sleep(0.05)
    committed: dict[str, float] = {}
    db = create_engine(sis_url)
    n = int(rate * seconds)
    start = time.monotonic()
    for i in range(n):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        key = f"B{i:06d}"
        with db.begin() as c:
            c.execute(text("INSERT INTO person (person_number, last_name) VALUES (:k, 'Bench')"), {"k": key})
        committed[key] = time.time()
    deadline = time.monotonic() + 30
    while len(target.source_keys) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    realtime.stop(timeout=30)
    engine.close()
    server.shutdown()
    db.dispose()
    arrivals = {item["source_key"]: at for at, item in target.arrivals}
    missing = n - len(arrivals)
    if missing:
        print(f"  WARNING: {missing} change(s) did not arrive within 30 s")
    return [arrivals[k] - committed[k] for k in committed if k in arrivals]


def report(name: str, latencies: list[float]) -> None:
    p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
    print(f"{name:11} n={len(latencies):5}  p50 {p50 * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms  "
          f"p99 {p99 * 1000:7.1f} ms  max {max(latencies) * 1000:7.1f} ms  mean {statistics.mean(latencies) * 1000:6.1f} ms  "
          f"p99/baseline(1 s) = {p99 / BASELINE_P99:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--sqlite-poll", type=float, default=0.05, help="outbox poll interval on SQLite")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    print(f"commit → delivery latency at {args.rate:g} changes/s for {args.seconds:g} s (sis source → rest target)")
    for db in args.db.split(","):
        if db == "sqlite":
            folder = Path(tempfile.mkdtemp())
            url = f"sqlite:///{folder / 'koppel.db'}"
            report("sqlite", run(url, url, args.rate, args.seconds, args.sqlite_poll))
        elif db == "postgresql":
            import psycopg

            name = f"koppel_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            try:
                admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
            except psycopg.OperationalError:
                print("postgresql  skipped: no server on 127.0.0.1:5432")
                continue
            admin.execute(f'CREATE DATABASE "{name}"')
            try:
                url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
                report("postgresql", run(url, url, args.rate, args.seconds, 1.0))
            finally:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                admin.close()


if __name__ == "__main__":
    main()
