"""Benchmark: db replication of 1,000,000 rows from SQLite to PostgreSQL: ``koppel run 0``.

Two measurements, interleaved: the engine in a warmed-up process (what the run costs once Koppel
has started) against a plain in-process COPY, and ``koppel run 0`` *as a command* (a fresh process
that loads the project, as a user or a cron job runs it, with its peak resident memory) against a
fresh-process COPY script; the memory of the command is also measured at a tenth of the rows.

Koppel's path is the one ``koppel run 0`` takes: the project's own ``interfaces/00-sis-datalaag.yaml``
(outbox mode, no mapping, ``delivery: {ledger: false, batch_size: 5000}``) run by ``Engine``
(lease, run row, ``db`` source, ``db`` target, batch commits with counts and cursor in the state
store). Only the systems' addresses differ: the SIS is a SQLite file holding the interface's 17
tables (``enrollment`` with ``--rows`` rows, the others empty) and an outbox; the data layer is a
PostgreSQL database of the bench's own; the state store is a SQLite file, fresh per run. The run
is a first run, so the source copies every table in full (``refresh-begin`` … ``refresh-end``) and
the cursor moves to the outbox position at the end.

Baseline: a plain psycopg ``COPY ... FROM STDIN`` of the same rows selected with sqlite3 (the
"select → COPY" of ../shared/research/performance-notes.md), into a table of the same column types.

Both write into fresh tables; runs are interleaved and the medians compared, with the load
average printed beside them (the machine is shared). Target: ratio ≥ 0.7. ``--per-record`` forces
the per-record path (Record, Item, lane) for comparison: ``KOPPEL_BULK=0``. ``--freeze`` first moves
the start-up objects out of the garbage collector's reach (``gc.freeze()``), as a long-running
process could; ``koppel run`` does not, so by default neither does the bench.

    .venv/bin/python bench/bench_db_replication.py [--rows 1000000] [--runs 3] [--per-record]
        [--group-rows N] [--freeze] [--dlt-python PATH]

Measured (medians of 3 interleaved runs, 1,000,000 rows, 2 shared cores; load average in brackets):

| path | koppel rows/s | plain COPY rows/s | ratio |
|---|---|---|---|
| before: per-record through the engine (Record, Item, payload hash, lane) | 59.6 k | 428 k | 0.14 (1.8) |
| before: the old bench's shortcut (plugins called directly, per record) | 141 k | 430 k | 0.33 (1.5) |
| bulk, a commit after every batch (``--group-rows 1``) | 211 k | 354 k | 0.59 (1.9) |
| bulk, the whole first load in one group | 278 k | 308 k | 0.90 (2.6) |
| bulk, groups of 100,000 rows (the default) | 362 k | 414 k | 0.87 (1.5) |
| the same, ``--freeze`` | 336 k | 412 k | 0.81 (2.5) |
| the same at 300,000 rows | 319 k | 370 k | 0.86 (1.7) |
| as commands (fresh processes), before ``koppel run N`` loaded only N, 50,000 rows | | | 0.08 (10) |
| as commands, after (libyaml, only interface 0 loaded, no Alembic import), 300,000 rows | 31.4 k | 38.8 k | 0.81 (12.5) |
| as commands, after, 1,000,000 rows (one run; dlt: 3.1 k rows/s) | 59.1 k | 58.6 k | 1.01 (14) |
| as commands, after direct driver connections, start-up without GC, no teardown, 1,000,000 rows (3 runs) | 270 k | 355 k | 0.76 (3.8) |

Peak RSS of the command: 116 MB at 1,000,000 rows and at 100,000 (ratio 1.00, load 14).

A group of 100,000 such rows holds about 44 MB until it is durable (kept for a replay); groups of
25,000 gave 0.82 (separate runs within the hour, load 2.5; 100,000 gave 0.92 at load 1.7).

Tried and not kept (no gain beyond the noise, same run interleaved): a reader thread filling a
bounded queue of batches ahead of the COPY (0.84 against 0.83), psycopg's ``QueuedLibpqWriter``
(0.85), ``gc.freeze()`` after start-up (per-record 5.37 s against 5.35 s at 300k rows; the bulk path
pauses the collector while it builds and writes a batch, which is what mattered). What is left
is the work plain COPY does too: ``fetchmany`` and ``write_row`` (cProfile: 2.6 of 3.2 s).

The peer users would pick, dlt (``sql_table`` from SQLite into PostgreSQL, ``replace``:
bench/dlt_replication.py), is timed as a command too when a Python with dlt is at hand
(``--dlt-python``; dlt is the ``bench`` extra of pyproject.toml, best in a venv of its own: it
brings its own psycopg2 and SQLAlchemy needs).

Needs PostgreSQL on 127.0.0.1:5432 (trust, user postgres); creates and drops its own database.
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
COLUMNS = "enrollment_id, student_number, name, email, credits, amount, updated_at"
INTERFACE = 0


def make_sqlite(path: Path, count: int) -> None:
    """The SIS store as interface 0 reads it: its tables (only enrollment filled) and an outbox."""
    from runtime.project import load_project

    interface = load_project(ROOT).interface(INTERFACE)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY, object TEXT, key TEXT, op TEXT, changed_at TEXT)")
    for table in interface.source.tables:
        if table.name != "enrollment":
            keys = ", ".join(f'"{k}" TEXT' for k in table.key)
            db.execute(f'CREATE TABLE "{table.name}" ({keys}, updated_at DATETIME)')
    db.execute("CREATE TABLE enrollment (enrollment_id INTEGER PRIMARY KEY, student_number TEXT, name TEXT, "
               "email TEXT, credits INTEGER, amount REAL, updated_at DATETIME)")
    rows = ((i, f"{100000 + i}", f"Student {i} van der Berg", f"s{i}@student.kw1c.nl", i % 240, i * 0.25,
             f"2026-{1 + i % 12:02}-{1 + i % 28:02} 10:{i % 60:02}:00.000000") for i in range(1, count + 1))
    db.executemany("INSERT INTO enrollment VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    db.execute("INSERT INTO outbox (object, key, op, changed_at) VALUES ('enrollment', '1', 'upsert', '2026-01-01')")
    db.commit()
    db.close()


def baseline(sqlite_path: Path, pg_url: str, run: int) -> float:
    import psycopg

    with psycopg.connect(pg_url) as conn:
        table = f"baseline_{run}"
        conn.execute(f"CREATE TABLE {table} (enrollment_id BIGINT PRIMARY KEY, student_number TEXT, name TEXT, "
                     f"email TEXT, credits BIGINT, amount DOUBLE PRECISION, updated_at TIMESTAMPTZ)")
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


def koppel(project, sqlite_path: Path, pg_url: str, state_dir: Path, run: int, rows: int) -> float:
    """``koppel run 0`` on a first run: engine, db source, db target, state store."""
    import psycopg

    from runtime.engine import Engine
    from runtime.models.catalog import SystemEnvironment

    with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS datalaag CASCADE")
    os.environ["KOPPEL_SIS_URL"] = f"sqlite:///{sqlite_path}"
    project.catalog.systems["datalaag"].environments["sandbox"] = SystemEnvironment(dsn=pg_url,
                                                                                    options={"schema": "datalaag"})
    engine = Engine(project, environment="sandbox", state_url=f"sqlite:///{state_dir / f'state_{run}.db'}")
    engine.store.list_runs(limit=1)  # the state schema is migrated before the clock starts
    started = time.perf_counter()
    summary = engine.run_interface(INTERFACE, trigger="outbox")
    elapsed = time.perf_counter() - started
    cursor = engine.store.cursor(INTERFACE, "db")
    engine.close()
    assert summary.outcome == "ok", summary
    assert summary.delivered >= rows, f"replicated {summary.delivered} of {rows} rows"
    assert cursor == '{"outbox": 1}', cursor
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        count = conn.execute("SELECT count(*) FROM datalaag.enrollment").fetchone()[0]
    assert count == rows, f"{count} rows at the target, expected {rows}"
    return elapsed


def project_copy(tmp: Path, pg_url: str) -> Path:
    """The project as a user has it, with the data layer's sandbox DSN pointing at the bench's database."""
    import shutil

    copy = tmp / "project"
    for name in ("catalog.yaml", "interfaces", "mappings", "contracts", "objects", "sandbox/secrets"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name)
        elif source.exists():
            copy.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, copy / name)
    catalog = copy / "catalog.yaml"
    catalog.write_text(catalog.read_text(encoding="utf-8").replace("dsn: sqlite:///var/datalaag.db", f"dsn: {pg_url}", 1),
                       encoding="utf-8")
    return copy


def command(argv: list[str], env: dict) -> tuple[float, int]:
    """Wall time and peak resident memory (KB) of a command run from a fresh process."""
    import subprocess

    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stdout}{done.stderr}")
    return elapsed, int(done.stderr.strip().splitlines()[-1])


def command_env(tmp: Path) -> dict:
    """The environment of every command the bench starts: bytecode cached (in a prefix of the
    bench's own, warmed by an untimed first command), as an installed Koppel and Python have it;
    under this workplace's PYTHONDONTWRITEBYTECODE=1 each process would compile Koppel from source."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pyc")
    return env


def koppel_command(copy: Path, sqlite_path: Path, pg_url: str, state_dir: Path, run: int) -> tuple[float, int]:
    """``koppel run 0`` typed by a user: a fresh process that loads the project and runs interface 0."""
    import psycopg

    with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS datalaag CASCADE")
    state_url = f"sqlite:///{state_dir / f'cmd_state_{run}.db'}"
    from runtime.engine.state.store import StateStore

    StateStore(state_url).close()  # migrated beforehand, as a user's state is after the first run
    env = {**command_env(state_dir), "KOPPEL_SIS_URL": f"sqlite:///{sqlite_path}",
           "KOPPEL_STATE_URL": state_url, "KOPPEL_VAR_DIR": str(state_dir)}
    return command([str(ROOT / ".venv/bin/koppel"), "--project", str(copy), "run", str(INTERFACE)], env)


def copy_command(sqlite_path: Path, pg_url: str, run: int, tmp: Path) -> tuple[float, int]:
    """The baseline as a command too: a fresh Python that selects with sqlite3 and COPYs with psycopg."""
    script = (f"import sqlite3, psycopg\n"
              f"c = psycopg.connect({pg_url.replace('+psycopg', '')!r})\n"
              f"c.execute('CREATE TABLE cmd_baseline_{run} (enrollment_id BIGINT PRIMARY KEY, student_number TEXT, "
              f"name TEXT, email TEXT, credits BIGINT, amount DOUBLE PRECISION, updated_at TIMESTAMPTZ)')\n"
              f"src = sqlite3.connect({str(sqlite_path)!r}).execute('SELECT {COLUMNS} FROM enrollment')\n"
              f"with c.cursor() as cur, cur.copy('COPY cmd_baseline_{run} ({COLUMNS}) FROM STDIN') as copy:\n"
              f"    while rows := src.fetchmany(10000):\n"
              f"        for row in rows: copy.write_row(row)\n"
              f"c.commit()\n")
    return command([sys.executable, "-c", script], command_env(tmp))


def dlt_python(given: str | None) -> str | None:
    """A Python with dlt: --dlt-python, else this one if it has dlt (``pip install '.[bench]'``)."""
    if given:
        return given
    import importlib.util

    return sys.executable if importlib.util.find_spec("dlt") else None


def dlt_command(python: str, sqlite_path: Path, plain_url: str, tmp: Path, run: int) -> float:
    """The peer as a command: dlt's sql_table → postgres, replace (bench/dlt_replication.py)."""
    url = plain_url.replace("postgres@", "postgres:trust@", 1)  # dlt wants a password; trust ignores it
    seconds, _ = command([python, str(ROOT / "bench" / "dlt_replication.py"), str(sqlite_path), url,
                          f"dlt_{run}", str(tmp / "dlt_pipelines")], {**os.environ, "RUNTIME__LOG_LEVEL": "ERROR"})
    return seconds



def create_database(name: str) -> tuple[str, str]:
    """A fresh database on the benchmark's server: its SQLAlchemy URL and its plain libpq URL."""
    import psycopg

    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    pg_url = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    return pg_url, pg_url.replace("+psycopg", "")


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--per-record", action="store_true", help="force the per-record path (KOPPEL_BULK=0)")
    parser.add_argument("--group-rows", type=int, default=None,
                        help="rows per durable group of the bulk path (runtime.engine.bulk.BULK_GROUP_ROWS)")
    parser.add_argument("--freeze", action="store_true",
                        help="move the start-up objects out of the garbage collector's reach first")
    parser.add_argument("--dlt-python", help="a Python with dlt installed, for the peer (default: this one, if it has dlt)")
    args = parser.parse_args()
    peer = dlt_python(args.dlt_python)
    if args.per_record:
        os.environ["KOPPEL_BULK"] = "0"
    import sqlalchemy  # noqa: F401 - imported before freezing, as a daemon has it
    import plugins.db.source, plugins.db.target, runtime.engine  # noqa: F401,E401
    from runtime.project import load_project

    if args.group_rows:
        import runtime.engine.bulk

        runtime.engine.bulk.BULK_GROUP_ROWS = args.group_rows
    project = load_project(ROOT)
    if args.freeze:
        # What a long-running daemon does after start-up: move the imported modules' objects out of
        # the collector's reach, so a full collection scans only live work, not the whole program.
        import gc

        gc.collect()
        gc.freeze()

    name = f"koppel_bench_{os.getpid()}"
    pg_url, plain_url = create_database(name)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            sqlite_path = tmp_path / "sis.db"
            t = time.perf_counter()
            make_sqlite(sqlite_path, args.rows)
            print(f"source: {args.rows:,} rows in SQLite ({time.perf_counter() - t:.1f}s to make)")
            print(f"stands for: `koppel run {INTERFACE}` as a command (a first load into PostgreSQL), and the engine "
                  f"in process; baselines: a fresh-process sqlite3 → COPY script, an in-process COPY")
            warm = tmp_path / "warm.db"  # first use imports drivers and dialects: not what is measured
            make_sqlite(warm, 100)
            koppel(project, warm, pg_url, tmp_path, 99, 100)
            copy = project_copy(tmp_path, pg_url)
            small = tmp_path / "small.db"  # memory: the same command on a tenth of the rows
            make_sqlite(small, max(100, args.rows // 10))
            koppel_command(copy, warm, pg_url, tmp_path, 98)  # untimed: fills the bytecode cache
            copy_command(warm, pg_url, 98, tmp_path)
            plain, ours, loads, cmd_plain, cmd_ours, rss_big, rss_small, cmd_dlt = [], [], [], [], [], [], [], []
            for run in range(args.runs):  # interleaved, so drift hits both alike
                loads.append(os.getloadavg()[0])
                plain.append(baseline(sqlite_path, plain_url, run))
                ours.append(koppel(project, sqlite_path, pg_url, tmp_path, run, args.rows))
                seconds, _ = copy_command(sqlite_path, pg_url, run, tmp_path)
                cmd_plain.append(seconds)
                seconds, rss = koppel_command(copy, sqlite_path, pg_url, tmp_path, run)
                cmd_ours.append(seconds)
                rss_big.append(rss)
                rss_small.append(koppel_command(copy, small, pg_url, tmp_path, 100 + run)[1])
                if peer:
                    cmd_dlt.append(dlt_command(peer, sqlite_path, plain_url, tmp_path, run))
                    print(f"  run {run + 1}: dlt (sql_table → postgres, replace) {cmd_dlt[-1]:.2f}s")
                print(f"  run {run + 1}: plain COPY {plain[-1]:.2f}s, koppel engine {ours[-1]:.2f}s, "
                      f"ratio {plain[-1] / ours[-1]:.2f}; as commands: COPY script {cmd_plain[-1]:.2f}s, "
                      f"`koppel run 0` {cmd_ours[-1]:.2f}s, ratio {cmd_plain[-1] / cmd_ours[-1]:.2f}; load {loads[-1]:.2f}")
            cp, ck = statistics.median(cmd_plain), statistics.median(cmd_ours)
            print(f"as a command: `koppel run {INTERFACE}` {args.rows / ck:,.0f} rows/s against a fresh-process COPY "
                  f"script {args.rows / cp:,.0f} rows/s: ratio {cp / ck:.2f} (target ≥ 0.8)")
            if cmd_dlt:
                cd = statistics.median(cmd_dlt)
                print(f"the peer, dlt as a command: {args.rows / cd:,.0f} rows/s: `koppel run {INTERFACE}` is "
                      f"{cd / ck:.2f}x its speed")
            else:
                print("the peer, dlt: not measured (no Python with dlt; --dlt-python PATH, or pip install '.[bench]')")
            print(f"peak RSS of `koppel run {INTERFACE}`: {statistics.median(rss_big) / 1024:.0f} MB for {args.rows:,} rows, "
                  f"{statistics.median(rss_small) / 1024:.0f} MB for {max(100, args.rows // 10):,} "
                  f"(ratio {statistics.median(rss_big) / statistics.median(rss_small):.2f}, target ≤ 1.1)")
            p, k = statistics.median(plain), statistics.median(ours)
            path = "per-record" if os.environ.get("KOPPEL_BULK") == "0" else "default"
            print(f"plain psycopg COPY : {args.rows / p:>12,.0f} rows/s  ({p:.2f}s)")
            print(f"koppel engine, in process (what `koppel run {INTERFACE}` does after start-up): "
                  f"{args.rows / k:>12,.0f} rows/s  ({k:.2f}s, {path} path)")
            print(f"ratio koppel/plain : {p / k:.2f}  (target ≥ 0.70; load average {statistics.median(loads):.2f})")
    finally:
        drop_database(name)


if __name__ == "__main__":
    main()
