"""Benchmark: seeding the SIS store, and what the outbox triggers cost.

1. Seeding: ``koppel sis seed``'s path (generate the college, bulk-write it in one transaction
   with the triggers on) for ``--students`` students: rows/s, and the time for 20,000 students
   against the one-minute target.
2. Trigger cost: the same rows written into a store with the outbox triggers and into one
   without them (``triggers.remove``), then ``--updates`` single-row UPDATEs with plain SQL as
   another client would send them. Prints writes/s with triggers over writes/s without: the
   share of write throughput the outbox keeps (1.0 = free).
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


def load(stores, rows: dict, *, with_triggers: bool) -> tuple[str, float]:
    from runtime.sis import schema, triggers
    from runtime.sis.seed.bulk import write_rows

    url = stores.fresh()
    schema.init(url)
    if not with_triggers:
        engine = schema.engine(url)
        with engine.begin() as connection:
            triggers.remove(connection)
        engine.dispose()
    started = time.perf_counter()
    write_rows(url, rows)
    return url, time.perf_counter() - started


def bench_engine(stores, rows: dict, runs: int, updates: int) -> None:
    total = sum(len(t) for t in rows.values())
    keys = [r[0] for r in rows["result"][:updates]]
    loads = {True: [], False: []}
    update_times = {True: [], False: []}
    for _ in range(runs):
        for with_triggers in (True, False):
            url, seconds = load(stores, rows, with_triggers=with_triggers)
            loads[with_triggers].append(seconds)
            update_times[with_triggers].append(stores.update_rows(url, keys))
    load_with, load_without = statistics.median(loads[True]), statistics.median(loads[False])
    upd_with, upd_without = statistics.median(update_times[True]), statistics.median(update_times[False])
    print(f"\n[{stores.name}] {total:,} rows per load, {len(keys):,} single-row updates, median of {runs}")
    print(f"  bulk load   with triggers  {total / load_with:>10,.0f} rows/s  ({load_with:.2f} s)")
    print(f"  bulk load   no triggers    {total / load_without:>10,.0f} rows/s  ({load_without:.2f} s)")
    print(f"  updates     with triggers  {len(keys) / upd_with:>10,.0f} rows/s")
    print(f"  updates     no triggers    {len(keys) / upd_without:>10,.0f} rows/s")
    print(f"  trigger cost ratio (writes/s with / without): bulk {load_without / load_with:.2f}, "
          f"updates {upd_without / upd_with:.2f}")


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
            url, seconds = load(stores, rows, with_triggers=True)
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
