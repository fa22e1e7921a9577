"""Benchmark: db replication of 1,000,000 rows from SQLite to PostgreSQL.

Koppel's path: ``TableSource`` (incremental by watermark, first run) → ``Item`` per record →
``TableTarget`` (COPY into an empty table, per batch of ``--batch`` rows, one transaction each),
exactly the calls the engine makes for a replication interface (no mapping, no ledger).

Baseline: a plain psycopg ``COPY ... FROM STDIN`` of the same rows selected with sqlite3 (the
"select → COPY" of ../shared/research/performance-notes.md), into a table of the same column types.

Both write into fresh tables; runs are interleaved and the medians compared. Target: ratio ≥ 0.7.
Start-up objects are frozen out of the garbage collector first (``gc.freeze()``, as a daemon does
after its imports); ``--no-freeze`` measures without.

    .venv/bin/python bench/bench_db_replication.py [--rows 1000000] [--runs 3] [--batch 10000]

Needs PostgreSQL on 127.0.0.1:5432 (trust, user postgres); creates and drops its own database.

Where the difference comes from (measured at 300k rows on an idle 2-core machine): the plain COPY
streams without pause, so PostgreSQL ingests rows while the client fetches the next ones. Koppel
commits every batch before ``write`` returns (an acknowledged record is durable: the engine moves
its cursor right after), so the server's catching up at the end of each COPY is never overlapped;
on top come the per-record objects of the plugin contract (``Record``, its dict, ``Item``).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ADMIN = os.environ.get("KOPPEL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
COLUMNS = "id, student_number, name, email, credits, amount, updated_at"


def make_sqlite(path: Path, count: int) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE enrollment (id INTEGER PRIMARY KEY, student_number TEXT, name TEXT, email TEXT, "
               "credits INTEGER, amount REAL, updated_at DATETIME)")
    rows = ((i, f"{100000 + i}", f"Student {i} van der Berg", f"s{i}@student.kw1c.nl", i % 240, i * 0.25,
             f"2026-{1 + i % 12:02}-{1 + i % 28:02} 10:{i % 60:02}:00.000000") for i in range(1, count + 1))
    db.executemany("INSERT INTO enrollment VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()


def baseline(sqlite_path: Path, pg_url: str, run: int) -> float:
    import psycopg

    with psycopg.connect(pg_url) as conn:
        table = f"baseline_{run}"
        conn.execute(f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, student_number TEXT, name TEXT, email TEXT, "
                     f"credits BIGINT, amount DOUBLE PRECISION, updated_at TIMESTAMPTZ)")
        conn.commit()
        started = time.perf_counter()
        src = sqlite3.connect(sqlite_path)
        cursor = src.execute(f"SELECT {COLUMNS} FROM enrollment")
        with conn.cursor() as cur, cur.copy(f"COPY {table} ({COLUMNS}) FROM STDIN") as copy:
            while rows := cursor.fetchmany(10000):
                for row in rows:
                    copy.write_row(row)
        conn.commit()
        src.close()
        return time.perf_counter() - started


def koppel(sqlite_path: Path, pg_url: str, run: int, batch: int) -> float:
    from plugins.db.gcpause import paused_gc
    from plugins.db.source import TableSource
    from plugins.db.spec import DbSource, DbTarget
    from plugins.db.target import TableTarget
    from runtime.models.catalog import SystemEnvironment
    from runtime.plugin import Item, PluginContext

    def ctx(dsn: str) -> PluginContext:
        return PluginContext(environment="sandbox", project_root=ROOT, system_name="bench",
                             system=SystemEnvironment(dsn=dsn), options={"batch_size": batch})

    source = TableSource(DbSource(type="db", tables=[{"name": "enrollment", "key": ["id"]}]),
                         ctx(f"sqlite:///{sqlite_path}"))
    target = TableTarget(DbTarget.model_validate({"type": "db", "schema": f"koppel_{run}"}),
                         ctx(pg_url.replace("postgresql://", "postgresql+psycopg://")))
    started = time.perf_counter()
    source.open()
    target.open()
    count = 0
    for b in source.read(None):
        with paused_gc():  # as the engine's lane should build a batch's items (see plugins.db.gcpause)
            items = [Item(r.key, r.data, r.key, r.operation, r.object) for r in b.records]
        outcomes = target.write(items)
        count += len(outcomes)
        source.commit(b)
    target.close()
    source.close()
    elapsed = time.perf_counter() - started
    assert count == ROWS, f"replicated {count} of {ROWS} rows"
    return elapsed


ROWS = 0


def main() -> None:
    global ROWS
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--no-freeze", action="store_true",
                        help="leave the start-up objects in the garbage collector's generations")
    args = parser.parse_args()
    ROWS = args.rows
    import plugins.db.source, plugins.db.target, sqlalchemy, psycopg  # noqa: F401,E401 - import before freezing
    if not args.no_freeze:
        # What a long-running daemon does after start-up: move the imported modules' objects out of
        # the collector's reach, so a full collection scans only live work, not the whole program.
        import gc

        gc.collect()
        gc.freeze()

    import psycopg

    name = f"koppel_bench_{os.getpid()}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    pg_url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sqlite_path = Path(tmp) / "sis.db"
            t = time.perf_counter()
            make_sqlite(sqlite_path, args.rows)
            print(f"source: {args.rows:,} rows in SQLite ({time.perf_counter() - t:.1f}s to make)")
            warm = Path(tmp) / "warm.db"  # first use imports drivers and dialects: not what is measured
            make_sqlite(warm, 100)
            ROWS = 100
            koppel(warm, pg_url, 99, args.batch)
            ROWS = args.rows
            plain, ours = [], []
            for run in range(args.runs):  # interleaved, so drift hits both alike
                plain.append(baseline(sqlite_path, pg_url, run))
                ours.append(koppel(sqlite_path, pg_url, run, args.batch))
                print(f"  run {run + 1}: plain COPY {plain[-1]:.2f}s, koppel {ours[-1]:.2f}s")
            p, k = statistics.median(plain), statistics.median(ours)
            print(f"plain psycopg COPY : {args.rows / p:>12,.0f} rows/s  ({p:.2f}s)")
            print(f"koppel db plugins  : {args.rows / k:>12,.0f} rows/s  ({k:.2f}s, batch {args.batch})")
            print(f"ratio koppel/plain : {p / k:.2f}  (target ≥ 0.70)")
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
