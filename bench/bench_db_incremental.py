"""Benchmark: an incremental ``koppel run 0`` as a command, 1% of the rows changed since the last run.

What it stands for: the cron job or outbox trigger of interface 0 (``interfaces/00-sis-datalaag.yaml``,
outbox mode, ``delivery: {ledger: false, batch_size: 5000}``) after the first load: the SIS store
(a SQLite file, ``enrollment`` with ``--rows`` rows) has changed ``--changed`` percent of them and
logged each change in its outbox; ``koppel --project <copy> run 0`` is started as a user starts it
(a fresh process that loads the project, reads the outbox past its cursor, fetches the current
rows, upserts them into the data layer, a PostgreSQL database of the bench's own, and records the
run in a SQLite state file).

Baseline (the issue's "temp + upsert limit"): a plain script in a fresh Python that does the same
work the shortest way: the outbox past its own position joined to ``enrollment`` in one sqlite3
query, ``COPY`` into a temporary table and one ``INSERT ... ON CONFLICT DO UPDATE`` into a table of
the same size (loaded with the same rows beforehand), one commit. Goal: koppel ≤ 1.5x its time.

Both see the same changes: each round changes a fresh 1% (``UPDATE`` + one outbox row per row),
then runs both, in alternating order, and checks that both targets hold the changed values. The
first load (``koppel run 0`` and the baseline's COPY) is done before the rounds and not timed.
Medians of ``--rounds``, with the load average beside them (the machine is shared). Each also
splits its time: the script's own clock after its imports, Koppel's run from its ``run finished``
log line; the rest is start-up (interpreter, imports, the project, and for Koppel the state store).

The peer users would pick, dlt (``sql_table`` with an incremental cursor on ``updated_at``,
``merge`` on the key: bench/dlt_incremental.py), runs in the same rounds as a command when a
Python with dlt is given (``--dlt-python``, a venv of its own: see bench/README.md); its first
load is made beside Koppel's and not timed either. It finds the changes by their timestamp, not
the outbox: the rounds stamp each changed row later than any row before it.

    .venv/bin/python bench/bench_db_incremental.py [--rows 1000000] [--changed 1] [--rounds 5]
        [--dlt-python PATH]

Needs PostgreSQL on 127.0.0.1:5432 (trust, user postgres); creates and drops its own database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_db_replication import (  # noqa: E402
    COLUMNS,
    INTERFACE,
    ROOT,
    command,
    create_database,
    dlt_python,
    drop_database,
    make_sqlite,
    project_copy,
)

#: the baseline's own clock, else Koppel's run duration: its "run finished" log line (ms), else its summary
WORK = re.compile(r"work (\d+\.\d+)|\"msg\": \"run finished\".*?\"duration\": (\d+\.\d+)|\((\d+\.\d+)s\)")

TABLE = ("CREATE TABLE IF NOT EXISTS plain_enrollment (enrollment_id BIGINT PRIMARY KEY, student_number TEXT, "
         "name TEXT, email TEXT, credits BIGINT, amount DOUBLE PRECISION, updated_at TIMESTAMPTZ)")

#: the baseline: what an engineer writes for "apply the changed rows" without Koppel
BASELINE = """
import sqlite3, sys, time, psycopg
started = time.perf_counter()
sis, pg, position = sys.argv[1], sys.argv[2], int(sys.argv[3])
src = sqlite3.connect(sis)
rows = src.execute("SELECT {cols} FROM enrollment WHERE enrollment_id IN "
                   "(SELECT CAST(key AS INTEGER) FROM outbox WHERE seq > ? AND object = 'enrollment')",
                   (position,))
with psycopg.connect(pg) as c, c.cursor() as cur:
    cur.execute("CREATE TEMP TABLE changed (LIKE plain_enrollment) ON COMMIT DROP")
    with cur.copy("COPY changed ({cols}) FROM STDIN") as copy:
        while chunk := rows.fetchmany(10000):
            for row in chunk:
                copy.write_row(row)
    cur.execute("INSERT INTO plain_enrollment SELECT * FROM changed ON CONFLICT (enrollment_id) DO UPDATE SET "
                "student_number = excluded.student_number, name = excluded.name, email = excluded.email, "
                "credits = excluded.credits, amount = excluded.amount, updated_at = excluded.updated_at")
print(f"work {time.perf_counter() - started:.3f}")
"""


def _changed(round_no: int, percent: int) -> str:
    """This round's rows: ``percent`` of every 100 ids, other ones each round (up to 100/percent)."""
    first = (round_no * percent) % 100
    return f"(enrollment_id % 100) BETWEEN {first} AND {first + percent - 1}"


def timed(argv: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds of the command, seconds of its work after start-up as it reports them: the
    baseline's own clock, Koppel's run duration in its summary line)."""
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    found = WORK.search(done.stderr) or WORK.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed, float(next(g for g in found.groups() if g))


def change(sqlite_path: Path, round_no: int, percent: int) -> tuple[int, int]:
    """Change a fresh ``percent``% of the rows and log them in the outbox; (rows, outbox seq before)."""
    db = sqlite3.connect(sqlite_path)
    before = db.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()[0]
    where = _changed(round_no, percent)
    # later than every row made by make_sqlite (2026) and than the rounds before: what a peer that
    # follows updated_at (dlt) needs to see the change; Koppel and the baseline follow the outbox
    stamp = (dt.datetime(2027, 1, 1) + dt.timedelta(minutes=round_no)).strftime("%Y-%m-%d %H:%M:%S.000000")
    n = db.execute(f"UPDATE enrollment SET credits = credits + 1000, updated_at = ? WHERE {where}", (stamp,)).rowcount
    db.execute("INSERT INTO outbox (object, key, op, changed_at) SELECT 'enrollment', CAST(enrollment_id AS TEXT), "
               f"'upsert', ? FROM enrollment WHERE {where}", (stamp,))
    db.commit()
    db.close()
    return n, before


def changed_everywhere(pg_url: str, sqlite_path: Path, round_no: int, percent: int, peer: bool) -> None:
    """Every target holds this round's values (the sum of credits over the changed rows)."""
    import psycopg

    where = _changed(round_no, percent)
    src = sqlite3.connect(sqlite_path)
    want = src.execute(f"SELECT count(*), sum(credits) FROM enrollment WHERE {where}").fetchone()
    src.close()
    with psycopg.connect(pg_url) as c:
        for table in ("datalaag.enrollment", "plain_enrollment", *(["dlt_incr.enrollment"] if peer else [])):
            got = c.execute(f"SELECT count(*), sum(credits) FROM {table} WHERE {where}").fetchone()
            assert tuple(got) == tuple(want), (table, got, want)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changed", type=int, default=1, help="percent of the rows changed per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dlt-python", help="a Python with dlt installed, for the peer (default: this one, if it has dlt)")
    args = parser.parse_args()
    peer = dlt_python(args.dlt_python)
    import psycopg

    name = f"koppel_bench_incr_{os.getpid()}"
    pg_url, plain_url = create_database(name)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            sis = tmp_path / "sis.db"
            make_sqlite(sis, args.rows)
            copy = project_copy(tmp_path, pg_url)
            state_url = f"sqlite:///{tmp_path / 'state.db'}"
            # both with their bytecode cached, as installed: under PYTHONDONTWRITEBYTECODE=1 every
            # koppel process would compile Koppel's own modules from source (~0.4 s of CPU)
            base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            base["PYTHONPYCACHEPREFIX"] = str(tmp_path / "pyc")
            env = {**base, "KOPPEL_SIS_URL": f"sqlite:///{sis}", "KOPPEL_STATE_URL": state_url,
                   "KOPPEL_VAR_DIR": str(tmp_path)}
            koppel = [str(ROOT / ".venv/bin/koppel"), "--project", str(copy), "run", str(INTERFACE)]
            seconds, _ = command(koppel, env)  # the first load, not timed
            with psycopg.connect(plain_url) as c, c.cursor() as cur:
                cur.execute(TABLE)
                src = sqlite3.connect(sis).execute(f"SELECT {COLUMNS} FROM enrollment")
                with cur.copy(f"COPY plain_enrollment ({COLUMNS}) FROM STDIN") as cp:
                    while chunk := src.fetchmany(10000):
                        for row in chunk:
                            cp.write_row(row)
            dlt_argv = None
            if peer:
                url = plain_url.replace("postgres@", "postgres:trust@", 1)  # dlt wants a password; trust ignores it
                dlt_argv = [peer, str(ROOT / "bench" / "dlt_incremental.py"), str(sis), url, "dlt_incr",
                            str(tmp_path / "dlt_pipelines")]
                dlt_env = {**base, "RUNTIME__LOG_LEVEL": "ERROR"}
                with sqlite3.connect(sis) as db:  # what its cursor query needs, not to be a scan per run
                    db.execute("CREATE INDEX IF NOT EXISTS enrollment_updated_at ON enrollment (updated_at)")
                first, _ = command(dlt_argv, dlt_env)
                print(f"the peer's first load (dlt, all rows, not timed in the rounds): {first:.1f}s")
            script = tmp_path / "plain_upsert.py"
            script.write_text(BASELINE.replace("{cols}", COLUMNS), encoding="utf-8")
            print(f"stands for: `koppel run {INTERFACE}` as a command after the first load ({seconds:.1f}s), "
                  f"{args.changed}% of {args.rows:,} rows changed per round; baseline: a fresh-process "
                  f"sqlite3 → COPY into a temp table + one INSERT ... ON CONFLICT")
            ours, plain, loads, ours_work, plain_work, theirs = [], [], [], [], [], []
            for r in range(args.rounds):
                n, before = change(sis, r, args.changed)
                loads.append(os.getloadavg()[0])
                runs = [("plain", [sys.executable, str(script), str(sis), plain_url, str(before)], dict(base)),
                        ("koppel", koppel, env)]
                for kind, argv, run_env in (runs if r % 2 == 0 else runs[::-1]):
                    seconds, work = timed(argv, run_env)
                    (plain if kind == "plain" else ours).append(seconds)
                    (plain_work if kind == "plain" else ours_work).append(work)
                if dlt_argv:
                    theirs.append(command(dlt_argv, dlt_env)[0])
                changed_everywhere(plain_url, sis, r, args.changed, bool(dlt_argv))
                print(f"  round {r + 1}: {n:,} rows changed; plain {plain[-1]:.2f}s (work {plain_work[-1]:.2f}s), "
                      f"koppel {ours[-1]:.2f}s (run {ours_work[-1]:.2f}s), ratio {ours[-1] / plain[-1]:.2f}"
                      f"{f'; dlt {theirs[-1]:.2f}s' if theirs else ''}; load {loads[-1]:.1f}")
            k, p = statistics.median(ours), statistics.median(plain)
            print(f"incremental `koppel run {INTERFACE}` {k:.2f}s against temp + upsert {p:.2f}s (medians of "
                  f"{args.rounds}): {k / p:.2f}x (goal ≤ 1.5x); load {statistics.median(loads):.1f}")
            if theirs:
                d = statistics.median(theirs)
                print(f"  the peer, dlt (sql_table, incremental on updated_at, merge) {d:.2f}s: "
                      f"`koppel run {INTERFACE}` {d / k:.1f}x faster")
            kw, pw = statistics.median(ours_work), statistics.median(plain_work)
            print(f"  of which after start-up: koppel's run {kw:.2f}s against the script's work {pw:.2f}s: "
                  f"{kw / pw:.2f}x; start-up (the rest) koppel {k - kw:.2f}s, the script {p - pw:.2f}s")
    finally:
        drop_database(name)


if __name__ == "__main__":
    main()
