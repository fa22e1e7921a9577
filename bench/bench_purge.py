"""Realtime delivery latency while the retention purge empties a large store (issue 17).

On PostgreSQL: the SIS outbox and Koppel's delivery ledger are filled with ROWS rows each (40
days old, past retention), then bench_latency.py's realtime run (a writer commits persons at RATE
changes/s, the outbox subscriber delivers each to a local HTTP target) is measured on two stores filled
alike: one idle (no purge), one while ``retention.purge`` removes the old rows in batches of
1000 (stopped when the window ends). Prints p50/p95/p99 of commit → delivery for both, the rows
the purge removed during the measured window, its rate, the machine's load average, and the ratio p99(purge)/p99(idle) (the claim: within 2x).

    .venv/bin/python bench/bench_purge.py [--rows 1000000] [--rate 50] [--seconds 20]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests" / "engine"))
sys.path.insert(2, str(ROOT / "bench"))

from bench_latency import PG_ADMIN, percentile, run  # noqa: E402


def fill(url: str, rows: int) -> None:
    from sqlalchemy import create_engine, text

    from runtime.engine.state import StateStore
    from runtime.sis import schema

    schema.init(url)
    StateStore(url).close()  # Koppel's state tables
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("INSERT INTO outbox (object, key, op, changed_at) SELECT 'person', 'old' || g, 'update', "
                       "now() - interval '100 days' FROM generate_series(1, :n) g"), {"n": rows})
        c.execute(text("INSERT INTO koppel_deliveries (interface_id, target, idempotency_key, payload_hash, status, "
                       "attempts, first_at, updated_at, delivered_at) SELECT 11, 'old', 'k' || g, 'h', 'delivered', 1, "
                       "now() - interval '100 days', now() - interval '100 days', now() - interval '100 days' "
                       "FROM generate_series(1, :n) g"), {"n": rows})
    with engine.begin() as c:  # committed: the planner sees the table as it is
        c.execute(text("ANALYZE"))
    engine.dispose()


def purge_project():
    """Interface 11 of bench_latency (an active outbox reader) with the catalog's default periods."""
    from runtime.models.catalog import Catalog

    catalog = Catalog.model_validate({"college": "bench", "source": "bench", "interfaces": [], "systems": {}})
    reader = SimpleNamespace(status="active", source=SimpleNamespace(type="sis", mode="outbox"),
                             delivery=SimpleNamespace(retention=None))
    return SimpleNamespace(interfaces={11: reader}, catalog=catalog, root=Path(tempfile.mkdtemp()))


def summary(name: str, latencies: list[float]) -> float:
    p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
    print(f"{name:22} n={len(latencies):5}  p50 {p50 * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms  "
          f"p99 {p99 * 1000:7.1f} ms  max {max(latencies) * 1000:7.1f} ms")
    return p99


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000, help="outbox rows and delivery rows, each")
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import psycopg
    from sqlalchemy import create_engine

    from runtime.engine.state import StateStore
    from runtime.engine.state.retention import purge

    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        print("skipped: no PostgreSQL on 127.0.0.1:5432")
        return
    # two stores filled alike: bench_latency's writer uses the same person numbers in each run
    names = [f"koppel_bench_purge_{os.getpid()}_{uuid.uuid4().hex[:6]}" for _ in range(2)]
    urls = [f"postgresql+psycopg://postgres@127.0.0.1:5432/{n}" for n in names]
    try:
        for name, url in zip(names, urls):
            admin.execute(f'CREATE DATABASE "{name}"')
            started = time.monotonic()
            fill(url, args.rows)
        print(f"store: {args.rows:,} outbox rows + {args.rows:,} delivery rows, 100 days old "
              f"(filled in {time.monotonic() - started:.0f} s); realtime load {args.rate:g} changes/s for "
              f"{args.seconds:g} s, sis outbox → rest target, PostgreSQL")
        idle = summary("idle store", run(urls[0], urls[0], args.rate, args.seconds, 1.0))

        url = urls[1]
        store, sis = StateStore(url, migrate=False), create_engine(url)
        result: dict = {}
        first_run, window_over = threading.Event(), threading.Event()

        def purging():
            while store.cursor(11, "sis") is None:  # the realtime loop's first run sets its cursor
                first_run.wait(0.05)
            t0 = time.monotonic()
            report = purge(store, purge_project(), sis_engine=sis, stop=window_over)
            result.update(report.removed, seconds=time.monotonic() - t0, notes=report.notes)

        worker = threading.Thread(target=purging)
        worker.start()
        during = summary("during the purge", run(url, url, args.rate, args.seconds, 1.0))
        still_running = worker.is_alive()
        window_over.set()  # the purge stops after the batch in hand: its figures are the window's
        worker.join()
        store.close()
        sis.dispose()
        removed = result.get("outbox", 0) + result.get("deliveries", 0)
        print(f"purge: removed {result.get('outbox', 0):,} outbox + {result.get('deliveries', 0):,} delivery rows "
              f"in {result['seconds']:.1f} s ({removed / result['seconds']:,.0f} rows/s, batches of 1000)"
              f"{'; stopped when the window ended' if still_running else ''} {result['notes'] or ''}")
        print(f"p99 during the purge / p99 of the idle store = {during / idle:.2f} (claim: <= 2); "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        if os.getloadavg()[0] > (os.cpu_count() or 1):
            print("NOTE: the machine was busier than its cores; the two windows saw different loads and the "
                  "ratio says more about them than about the purge. Run it again on a quiet machine.")
    finally:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

if __name__ == "__main__":
    main()
