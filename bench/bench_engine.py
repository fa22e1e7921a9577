"""End to end through the engine: source → mapping → ledger + lineage → a SQLite table, per batch
committed with its cursor, against the same work written plainly; and memory for a small and a
ten-times-larger run.

What it stands for: ``koppel run 0`` of a batch interface with ``delivery: {batch_size: 1000}``
(ledger on, or ``ledger: false``) whose mapping (``mappings/bench-engine.yaml`` in a temporary
project: 6 fields, two paths, a constant, a default, a function) feeds a target that writes each
delivered item into a SQLite table (one ``executemany`` and commit per call). The source
generates records on the fly. The state store is SQLite (``--state sqlite``) or a PostgreSQL
database of the bench's own (``--state pg``). Each Koppel run is a fresh process (as a command
is), timed from the run's start, so the figure is the engine's throughput, not its start-up (see
bench_db_replication.py for whole commands).

``delivery.commit_every`` makes the outcomes durable in steps within a batch (a crash re-sends at
most one step, runtime/engine/checkpoint.py): the bench runs ``commit_every: 50`` (the default
before issue 15 goal 4) and 1000 (the default now: one step per batch here), since the step
commits and the target's per-write overhead dominate a fast target at 50.

Baselines, in the same child process shape and interleaved with Koppel's runs:
- generate+map: the same records mapped by the same compiled mapping, nothing written (the
  issue's reference: end to end ≥ 0.5× of it on SQLite state, ≥ 0.4× on PostgreSQL state);
- plain pipeline: generate, map with plain Python, ``executemany`` into the SQLite table per
  1000 records and commit, what an engineer would write without Koppel (no ledger);
- plain pipeline with the same ledger (ledger on only): the plain pipeline plus, per 1000
  records, the ledger rows and their lineage written by hand into the same state database
  with the same statements (``child_plain_ledger``): what the ledger itself costs, so the
  ratio to it is Koppel's own overhead.

    .venv/bin/python bench/bench_engine.py [--records 20000] [--rounds 3] [--state sqlite|pg|both]
        [--ledger on|off|both] [--memory]

``--memory`` also runs 10x the records and prints the peak RSS growth ratio (flat ≈ 1).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADMIN = os.environ.get("KOPPEL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
MAPPING = """name: bench-engine
output:
  id: id
  naam: name
  nummer: n
  plaats: address.city
  land: "'NL'"
  klas: upper(group)
"""
BATCH = 1000


def _record(j: int) -> dict:
    return {"id": f"s{j}", "name": f"Student {j}", "n": j, "address": {"city": "Den Bosch"}, "group": f"ict{j % 7}"}


def _table(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS delivered (id TEXT PRIMARY KEY, naam TEXT, nummer INTEGER, "
               "plaats TEXT, land TEXT, klas TEXT)")
    return db


def child_koppel(n: int, ledger: bool, state_url: str | None, commit_every: int) -> dict:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(1, str(ROOT / "tests" / "engine"))
    from collections.abc import Iterator
    from typing import Literal

    import engine_fakes

    from runtime.engine import Engine
    from runtime.models.interface import SpecBase, TargetSpecBase
    from runtime.plugin import Batch, Outcome, Plugin, Record, Source, Target

    folder = Path(tempfile.mkdtemp())
    (folder / "mappings").mkdir()
    (folder / "mappings" / "bench-engine.yaml").write_text(MAPPING, encoding="utf-8")
    db = _table(folder / "target.db")

    class GenSpec(SpecBase):
        type: Literal["gen"]
        n: int

    class TableSpec(TargetSpecBase):
        type: Literal["sqlitetable"]
        name: str

    class Gen(Source):
        def __init__(self, spec, ctx):
            self.n, self.size = spec.n, ctx.options["batch_size"]

        def read(self, cursor) -> Iterator[Batch]:
            start = int(cursor or 0)
            for i in range(start, self.n, self.size):
                hi = min(self.n, i + self.size)
                yield Batch([Record(f"s{j}", _record(j)) for j in range(i, hi)], cursor=str(hi))

    class SqliteTable(Target):
        """A real target: every item an upsert into a SQLite table, one commit per call."""

        def write(self, items):
            db.executemany("INSERT OR REPLACE INTO delivered VALUES (:id, :naam, :nummer, :plaats, :land, :klas)",
                           [i.payload for i in items])
            db.commit()
            return [Outcome(reference=None) for _ in items]

    reg = engine_fakes.registry({
        "gen": Plugin("gen", "generated", source_spec=GenSpec, create_source=lambda s, c: Gen(s, c)),
        "sqlitetable": Plugin("sqlitetable", "SQLite table", target_spec=TableSpec,
                              create_target=lambda s, c: SqliteTable()),
    })
    project = engine_fakes.make_project(folder, reg, [{
        "id": 0, "source": {"type": "gen", "n": n}, "mapping": "bench-engine",
        "targets": [{"type": "sqlitetable", "name": "x"}], "delivery": {"batch_size": BATCH, "ledger": ledger, "commit_every": commit_every}}])
    engine = Engine(project, reg, state_url=state_url or f"sqlite:///{folder / 'state.db'}")
    engine.store.list_runs(limit=1)  # migrated before the clock starts
    import gc

    gc.freeze()  # as `koppel run` does after its start-up (runtime/engine/cli.py): the run's first
    # full collection does not walk the imported modules and the project (~0.1 s here otherwise)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, cpu = time.perf_counter(), time.process_time()
    summary = engine.run_interface(0)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    arrived = db.execute("SELECT count(*), max(klas) FROM delivered").fetchone()
    assert summary.delivered == n and arrived == (n, "ICT6" if n >= 7 else arrived[1]), (summary, arrived)
    engine.close()
    # cpu: this process's CPU time in the run (steadier than the wall time on a loaded machine;
    # leaves out the PostgreSQL server's work and the waits for the disk)
    return {"seconds": seconds, "cpu_seconds": cpu, "growth_kb": peak - base, "peak_kb": peak}


def child_map(n: int) -> dict:
    sys.path.insert(0, str(ROOT))
    import yaml

    from runtime.mapping import compile_mapping

    mapping = compile_mapping(yaml.safe_load(MAPPING), ROOT)
    started = time.perf_counter()
    for i in range(0, n, BATCH):
        out = [mapping(_record(j)) for j in range(i, min(n, i + BATCH))]
    seconds = time.perf_counter() - started
    assert out[-1]["klas"] == f"ICT{(n - 1) % 7}", out[-1]
    return {"seconds": seconds}


def child_plain(n: int) -> dict:
    db = _table(Path(tempfile.mkdtemp()) / "target.db")
    started = time.perf_counter()
    for i in range(0, n, BATCH):
        rows = []
        for j in range(i, min(n, i + BATCH)):
            r = _record(j)
            rows.append((r["id"], r["name"], r["n"], r["address"]["city"], "NL", r["group"].upper()))
        db.executemany("INSERT OR REPLACE INTO delivered VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.commit()
    seconds = time.perf_counter() - started
    assert db.execute("SELECT count(*) FROM delivered").fetchone()[0] == n
    return {"seconds": seconds}


def child_plain_ledger(n: int, state_url: str | None) -> dict:
    """The plain pipeline with the ledger Koppel keeps, written by hand: per 1,000 records the
    target's executemany + commit as ``child_plain``, then in one state transaction the ledger rows
    (SHA-256 of each payload's JSON) upserted and their lineage inserted (SQLite: executemany of
    the same two statements; PostgreSQL: COPY into a temporary table, one upsert and one lineage
    insert read from it) and the cursor stored. The state schema is made by Koppel's migrations
    before the clock starts; the statements' text is taken once from StateStore, so both write
    the same rows with the same SQL. What a ledger costs without Koppel around it."""
    import hashlib

    sys.path.insert(0, str(ROOT))
    from runtime.engine.state.store import StateStore

    folder = Path(tempfile.mkdtemp())
    db = _table(folder / "target.db")
    url = state_url or f"sqlite:///{folder / 'state.db'}"
    store = StateStore(url)
    upsert, lineage_sql = store._sql("deliveries"), store._sql("lineage")
    store.close()
    pg = not url.startswith("sqlite")
    if pg:  # the store writes its statements with ? marks for either driver (connections.Transaction)
        upsert, lineage_sql = upsert.replace("?", "%s"), lineage_sql.replace("?", "%s")
        import datetime as dt

        import psycopg

        state = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        now: object = dt.datetime.now(dt.timezone.utc)
        state.execute("CREATE TEMP TABLE ledger_in (target varchar(120), idempotency_key varchar(500), "
                      "payload_hash varchar(64), status varchar(20), attempts integer, source_key varchar(500)) "
                      "ON COMMIT DELETE ROWS")
        state.commit()
    else:
        state = sqlite3.connect(folder / "state.db")
        state.execute("PRAGMA journal_mode=WAL")
        state.execute("PRAGMA synchronous=NORMAL")
        now = time.strftime("%Y-%m-%d %H:%M:%S.000000")
    started = time.perf_counter()
    for i in range(0, n, BATCH):
        rows, ledger = [], []
        for j in range(i, min(n, i + BATCH)):
            r = _record(j)
            row = (r["id"], r["name"], r["n"], r["address"]["city"], "NL", r["group"].upper())
            rows.append(row)
            digest = hashlib.sha256(json.dumps(row, separators=(",", ":")).encode()).hexdigest()
            ledger.append((r["id"], digest))
        db.executemany("INSERT OR REPLACE INTO delivered VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.commit()
        cursor = str(min(n, i + BATCH))
        if pg:
            with state.cursor() as cur:
                with cur.copy("COPY ledger_in FROM STDIN") as copy:
                    for key, digest in ledger:
                        copy.write_row(("x", key, digest, "delivered", 1, key))
                cur.execute(upsert.replace(f"VALUES ({', '.join(['%s'] * 14)})", (
                    "SELECT 0, target, idempotency_key, payload_hash, status, attempts, NULL, NULL, 1, source_key, "
                    "NULL, %(ts)s, %(ts)s, %(ts)s FROM ledger_in")), {"ts": now})
                cur.execute(lineage_sql.replace(f"VALUES ({', '.join(['%s'] * 10)})", (
                    "SELECT 0, target, idempotency_key, 1, source_key, NULL, payload_hash, status, NULL, %(ts)s "
                    "FROM ledger_in")), {"ts": now})
                cur.execute("INSERT INTO koppel_cursors (interface_id, source, cursor, updated_at) VALUES (0, 'gen', %s, %s) "
                            "ON CONFLICT (interface_id, source) DO UPDATE SET cursor = excluded.cursor", (cursor, now))
        else:
            state.executemany(upsert, [(0, "x", key, digest, "delivered", 1, None, None, 1, key, None, now, now, now)
                                       for key, digest in ledger])
            state.executemany(lineage_sql, [(0, "x", key, 1, key, None, digest, "delivered", None, now)
                                            for key, digest in ledger])
            state.execute("INSERT INTO koppel_cursors (interface_id, source, cursor, updated_at) VALUES (0, 'gen', ?, ?) "
                          "ON CONFLICT (interface_id, source) DO UPDATE SET cursor = excluded.cursor", (cursor, now))
        state.commit()
    seconds = time.perf_counter() - started
    assert db.execute("SELECT count(*) FROM delivered").fetchone()[0] == n
    state.close()
    return {"seconds": seconds}


def measure(kind: str, n: int, ledger: bool = True, state_url: str | None = None, commit_every: int = 50) -> dict:
    argv = [sys.executable, __file__, "--child", kind, "--records", str(n), "--ledger", "on" if ledger else "off",
            "--commit-every", str(commit_every)]
    if state_url:
        argv += ["--state-url", state_url]
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def _state(kind: str):
    """None (the child makes a SQLite state file of its own) or a fresh PostgreSQL database."""
    if kind == "sqlite":
        yield None
        return
    import psycopg

    name = f"koppel_bench_engine_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--state", choices=["sqlite", "pg", "both"], default="both")
    parser.add_argument("--ledger", choices=["on", "off", "both"], default="on")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--commit-every", default="50,1000",
                        help="delivery.commit_every values to run (1000: the default; 50: the old one)")
    parser.add_argument("--child")
    parser.add_argument("--state-url")
    args = parser.parse_args()
    if args.child:
        every = int(args.commit_every)
        result = {"koppel": lambda: child_koppel(args.records, args.ledger == "on", args.state_url, every),
                  "map": lambda: child_map(args.records), "plain": lambda: child_plain(args.records),
                  "plain-ledger": lambda: child_plain_ledger(args.records, args.state_url)}[args.child]()
        print(json.dumps(result))
        return
    n = args.records
    print(f"stands for: `koppel run 0` of a batch interface, {n:,} records, mapping of 6 fields, "
          f"batches of {BATCH}, a SQLite table as target (each Koppel run a fresh process)")
    states = ["sqlite", "pg"] if args.state == "both" else [args.state]
    ledgers = [True, False] if args.ledger == "both" else [args.ledger == "on"]
    for state in states:
        for ledger, every in [(lg, int(e)) for lg in ledgers for e in args.commit_every.split(",")]:
            ours, mapped, plain, plain_ledger, loads = [], [], [], [], []
            for _ in range(args.rounds):
                loads.append(os.getloadavg()[0])
                mapped.append(measure("map", n)["seconds"])
                with _state(state) as url:  # a first run every time: a fresh state database
                    ours.append(measure("koppel", n, ledger, url, every)["seconds"])
                plain.append(measure("plain", n)["seconds"])
                if ledger:
                    with _state(state) as url:
                        plain_ledger.append(measure("plain-ledger", n, ledger, url)["seconds"])
            k, m, p = (statistics.median(x) for x in (ours, mapped, plain))
            label = f"{state} state, ledger {'on' if ledger else 'off'}, commit_every {every}"
            also = ""
            if ledger:
                pl = statistics.median(plain_ledger)
                also = f"; plain pipeline with the same ledger {n / pl:,.0f} rec/s -> ratio {pl / k:.2f}"
            print(f"{label}: koppel {n / k:,.0f} rec/s; generate+map {n / m:,.0f} rec/s -> ratio {m / k:.2f} "
                  f"(goal ≥ {0.5 if state == 'sqlite' else 0.4}); plain pipeline {n / p:,.0f} rec/s -> ratio {p / k:.2f}"
                  f"{also}; load {statistics.median(loads):.1f}")
            if args.memory:
                with _state(state) as url:
                    small = measure("koppel", n, ledger, url, every)
                with _state(state) as url:
                    large = measure("koppel", n * 10, ledger, url, every)
                ratio = max(large["growth_kb"], 1) / max(small["growth_kb"], 1)
                print(f"{label}: peak RSS {small['peak_kb'] / 1024:.0f} MB at {n:,}, {large['peak_kb'] / 1024:.0f} MB at "
                      f"{n * 10:,}; growth ratio {ratio:.2f} (flat ≈ 1; load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
