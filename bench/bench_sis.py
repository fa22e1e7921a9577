"""Benchmark: seeding the SIS store, and what the outbox triggers cost.

1. Seeding: ``koppel sis seed``'s path (generate the college, bulk-write it in one transaction
   with the triggers on) for ``--students`` students: rows/s, and the time for 20,000 students
   against the one-minute target.
2. Trigger cost: the same rows written into a store with every trigger (the outbox and the
   verzuim rule, ``runtime.sis.verzuim``), into one with the outbox triggers only (as before the
   rule lived in the store) and into one without triggers, then ``--updates`` single-row UPDATEs
   and single-row absence INSERTs (an attendance officer's registrations, day by day, some of
   them crossing the 16-hours rule) with plain SQL as another client would send them. Prints
   writes/s with triggers over writes/s without: the share of write throughput the triggers
   keep (1.0 = free).
3. The sis plugin on the seeded store (from 5,000 students): records/s read with includes (and
   the peak Python memory while reading, which must not grow with the table), updates/s written.

Runs are interleaved (with, without, with, ...) and medians compared, as in
../shared/research/performance-notes.md. SQLite always; PostgreSQL too when it answers on
127.0.0.1:5432 (a database of its own, dropped afterwards; ``--no-postgres`` to skip).

    .venv/bin/python bench/bench_sis.py [--students 20000] [--runs 3] [--updates 20000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ADMIN = os.environ.get("KOPPEL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TARGET_SECONDS = 60.0  # 20,000 students "well under a minute" on SQLite
ABSENCE_INSERT = "INSERT INTO absence (absence_id, student_number, date, hours, authorised) VALUES (%s, %s, %s, %s, %s)"
#: which triggers a store has: every one, the outbox only (before the verzuim rule), none
TRIGGER_SETS = ("all", "outbox", "none")


def new_absence(rows: dict, count: int) -> list[tuple]:
    """``count`` absence registrations after the seeded autumn, ten school days per student,
    written day by day as an attendance officer would; about a third authorised."""
    import datetime as dt
    import random

    rng = random.Random(16)
    students = [r[0] for r in rows["student"]][: max(1, count // 10)]
    days = [dt.date(2026, 11, 2) + dt.timedelta(days=i) for i in range(14)]
    days = [d for d in days if d.weekday() < 5][:10]
    registrations = [
        (f"BENCH{i}-{number}", number, day.isoformat(), float(rng.randint(1, 4)), rng.random() < 0.3)
        for i, day in enumerate(days)
        for number in students
    ]
    return registrations[:count]


class SqliteStores:
    name = "sqlite"

    def __init__(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="bench_sis_")
        self.n = 0

    def fresh(self) -> str:
        self.n += 1
        return f"sqlite:///{self.dir.name}/sis_{self.n}.db"

    def update_rows(self, url: str, keys: list[str]) -> float:
        import sqlite3

        connection = sqlite3.connect(url.split(":///", 1)[1], isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        started = time.perf_counter()
        connection.execute("BEGIN")
        connection.executemany("UPDATE result SET score = score + 0.1 WHERE result_id = ?", [(k,) for k in keys])
        connection.execute("COMMIT")
        elapsed = time.perf_counter() - started
        connection.close()
        return elapsed

    def insert_absence(self, url: str, rows: list[tuple]) -> float:
        import sqlite3

        connection = sqlite3.connect(url.split(":///", 1)[1], isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        started = time.perf_counter()
        connection.execute("BEGIN")
        connection.executemany(ABSENCE_INSERT.replace("%s", "?"), rows)
        connection.execute("COMMIT")
        elapsed = time.perf_counter() - started
        connection.close()
        return elapsed

    def close(self) -> None:
        self.dir.cleanup()


class PostgresStores:
    name = "postgresql"

    def __init__(self) -> None:
        self.prefix = f"koppel_bench_sis_{os.getpid()}"
        self.n = 0
        self.created: list[str] = []

    def _admin(self):  # noqa: ANN202
        import psycopg

        return psycopg.connect(ADMIN, autocommit=True, connect_timeout=3)

    def fresh(self) -> str:
        self.n += 1
        name = f"{self.prefix}_{self.n}"
        with self._admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return "postgresql+psycopg://" + ADMIN.split("://", 1)[1].rsplit("/", 1)[0] + "/" + name

    def update_rows(self, url: str, keys: list[str]) -> float:
        import psycopg

        conninfo = "postgresql://" + url.split("://", 1)[1]
        with psycopg.connect(conninfo) as connection:
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.executemany("UPDATE result SET score = score + 0.1 WHERE result_id = %s", [(k,) for k in keys])
            connection.commit()
            return time.perf_counter() - started

    def insert_absence(self, url: str, rows: list[tuple]) -> float:
        import psycopg

        conninfo = "postgresql://" + url.split("://", 1)[1]
        with psycopg.connect(conninfo) as connection:
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.executemany(ABSENCE_INSERT, rows)
            connection.commit()
            return time.perf_counter() - started

    def close(self) -> None:
        with self._admin() as admin:
            for name in self.created:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_available() -> bool:
    try:
        PostgresStores()._admin().close()
        return True
    except Exception:  # noqa: BLE001
        return False


def load(stores, rows: dict, *, trigger_set: str = "all") -> tuple[str, float]:
    from runtime.sis import schema, triggers, verzuim
    from runtime.sis.seed.bulk import write_rows

    url = stores.fresh()
    schema.init(url)
    if trigger_set != "all":
        engine = schema.engine(url)
        with engine.begin() as connection:
            verzuim.remove(connection)
            if trigger_set == "none":
                triggers.remove(connection)
        engine.dispose()
    started = time.perf_counter()
    write_rows(url, rows)
    return url, time.perf_counter() - started


def bench_engine(stores, rows: dict, runs: int, updates: int) -> None:
    total = sum(len(t) for t in rows.values())
    keys = [r[0] for r in rows["result"][:updates]]
    registrations = new_absence(rows, updates)
    times: dict[str, dict[str, list[float]]] = {what: {s: [] for s in TRIGGER_SETS} for what in ("load", "upd", "abs")}
    reports: dict[str, int] = {}
    for _ in range(runs):
        for trigger_set in TRIGGER_SETS:
            url, seconds = load(stores, rows, trigger_set=trigger_set)
            times["load"][trigger_set].append(seconds)
            times["upd"][trigger_set].append(stores.update_rows(url, keys))
            times["abs"][trigger_set].append(stores.insert_absence(url, registrations))
            reports[trigger_set] = count_reports(url) - len(rows["absence_report"])
    median = {what: {s: statistics.median(t) for s, t in by_set.items()} for what, by_set in times.items()}
    label = {"all": "all triggers", "outbox": "outbox only", "none": "no triggers"}
    print(f"\n[{stores.name}] {total:,} rows per load, {len(keys):,} single-row updates, "
          f"{len(registrations):,} single-row absence inserts, median of {runs}")
    for what, name, count in (("load", "bulk load", total), ("upd", "updates", len(keys)),
                              ("abs", "absence", len(registrations))):
        for trigger_set in TRIGGER_SETS:
            seconds = median[what][trigger_set]
            print(f"  {name:<11} {label[trigger_set]:<13} {count / seconds:>10,.0f} rows/s  ({seconds:.2f} s)")
    print(f"  new verzuim reports from the absence inserts: {reports['all']} (all triggers), "
          f"{reports['outbox']} (outbox only)")
    for trigger_set in ("outbox", "all"):
        ratios = {what: median[what]["none"] / median[what][trigger_set] for what in median}
        print(f"  trigger cost ratio, {label[trigger_set]} (writes/s with / without): bulk {ratios['load']:.2f}, "
              f"updates {ratios['upd']:.2f}, absence inserts {ratios['abs']:.2f}")


def count_reports(url: str) -> int:
    from runtime.sis import schema

    engine = schema.engine(url)
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql("SELECT count(*) FROM absence_report").scalar_one()
    finally:
        engine.dispose()


def bench_plugin(url: str, name: str) -> None:
    """The sis plugin over the seeded store: read every enrollment with what DUO ROD includes,
    then write person updates back; peak Python memory while reading shows it stays flat."""
    import tracemalloc
    from pathlib import Path

    import plugins.sis as sis
    from runtime.plugin import Item, PluginContext

    ctx = PluginContext(environment="sandbox", project_root=Path("."), options={"sis_url": url, "batch_size": 500})
    spec = sis.plugin.source_spec(
        type="sis", object="enrollment", mode="watermark", include=["student.person", "program", "periods", "internships"]
    )
    source = sis.plugin.create_source(spec, ctx)
    source.open()
    tracemalloc.start()
    started = time.perf_counter()
    count = sum(len(batch.records) for batch in source.read(None))
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    source.close()
    print(f"  sis source  {count:,} enrollments with student.person, program, periods, internships: "
          f"{count / elapsed:,.0f} records/s, peak Python memory {peak:.1f} MB")

    target = sis.plugin.create_target(
        sis.plugin.target_spec(type="sis", system="sis", object="person", operation="update"), ctx
    )
    target.open()
    items = [
        Item(key=str(i), payload={"person_number": f"P{100001 + i}", "eck_id": f"https://ketenid.nl/201703/{i:032x}"},
             source_key=str(i))
        for i in range(5000)
    ]
    started = time.perf_counter()
    for start in range(0, len(items), 500):
        outcomes = target.write(items[start : start + 500])
        assert all(o.ok for o in outcomes)
    elapsed = time.perf_counter() - started
    target.close()
    print(f"  sis target  {len(items):,} person updates (ECK-iD write-back): {len(items) / elapsed:,.0f} records/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--updates", type=int, default=20000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    from runtime.sis.seed import generate

    started = time.perf_counter()
    rows = generate(args.students, args.seed)
    generated = time.perf_counter() - started
    total = sum(len(t) for t in rows.values())
    print(f"generate: {args.students:,} students → {total:,} rows in {generated:.2f} s ({total / generated:,.0f} rows/s)")

    engines = [SqliteStores()]
    if not args.no_postgres and postgres_available():
        engines.append(PostgresStores())
    try:
        for stores in engines:
            url, seconds = load(stores, rows)
            seed_seconds = generated + seconds
            print(f"\n[{stores.name}] seed (generate + write, triggers on): {total:,} rows in {seed_seconds:.2f} s = "
                  f"{total / seed_seconds:,.0f} rows/s; write alone {total / seconds:,.0f} rows/s")
            if stores.name == "sqlite":
                per_20k = seed_seconds * 20000 / args.students
                print(f"  20,000 students ≈ {per_20k:.1f} s; ratio to the {TARGET_SECONDS:.0f} s target: "
                      f"{per_20k / TARGET_SECONDS:.2f} (lower is better)")
            if args.students >= 5000:
                bench_plugin(url, stores.name)
            bench_engine(stores, rows, args.runs, args.updates)
    finally:
        for stores in engines:
            stores.close()


if __name__ == "__main__":
    main()
