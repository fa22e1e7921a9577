"""The bulk path (runtime/engine/bulk.py): replication without mapping or ledger moves rows as
tuples, yet lands exactly what the per-record path lands, moves the cursor only after the rows are
durable, survives a kill mid-load, and still applies the outbox's changes and deletes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import engine_bulk
import runtime.engine.bulk as bulk

pytestmark = pytest.mark.postgres
WORKER = Path(__file__).with_name("engine_bulk_worker.py")


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _pg_table(url: str, schema: str, table: str) -> tuple[list, list]:
    import psycopg

    with psycopg.connect(_psycopg_url(url)) as conn:
        types = conn.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                             (schema, table)).fetchall()
        rows = conn.execute(f'SELECT * FROM "{schema}"."{table}" ORDER BY 1, 2').fetchall()
    return types, rows


def _sqlite_table(path: Path, table: str) -> tuple[list, list]:
    db = sqlite3.connect(path)
    types = [(r[1], r[2]) for r in db.execute(f'PRAGMA table_info("{table}")')]
    rows = db.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2').fetchall()
    db.close()
    return types, rows


@pytest.fixture
def bulk_runs(monkeypatch):
    """Counts the runs that took the bulk path; small groups, so durable points fall mid-load."""
    taken = []
    run = bulk.BulkRead.run
    monkeypatch.setattr(bulk, "BULK_GROUP_ROWS", 250)
    monkeypatch.setattr(bulk.BulkRead, "run", lambda self: taken.append(1) or run(self))
    return taken


@pytest.mark.parametrize("mode", ["outbox", "incremental", "full"])
def test_bulk_lands_the_same_rows_counts_and_cursor_as_the_per_record_path(tmp_path, pg_url, monkeypatch,
                                                                          bulk_runs, mode):
    source = tmp_path / "sis.db"
    engine_bulk.make_source(source, 1_234)
    results = {}
    for path in ("per-record", "bulk"):
        monkeypatch.setenv("KOPPEL_BULK", "0" if path == "per-record" else "1")
        schema = f"s_{path.replace('-', '_')}"
        engine = engine_bulk.engine(tmp_path, source, pg_url, f"sqlite:///{tmp_path / f'{path}.db'}", schema,
                                    mode=mode)
        summary = engine.run_interface(0, trigger="outbox")
        assert summary.outcome == "ok", summary
        results[path] = (summary.read, summary.delivered, engine.store.cursor(0, "db"),
                         _pg_table(pg_url, schema, "enrollment"), _pg_table(pg_url, schema, "membership"))
        engine.close()
    assert bulk_runs == [1]  # the per-record run did not take it, the bulk run did
    assert results["bulk"] == results["per-record"]
    read, delivered, cursor, (types, rows), _ = results["bulk"]
    assert read == delivered == 1_234 + 123 + (4 if mode != "incremental" else 2)  # + refresh markers
    assert len(rows) == 1_234 and dict(types)["start_date"] == "date"
    assert dict(types)["updated_at"] == "timestamp with time zone"
    assert cursor is not None or mode == "full"


def test_bulk_into_sqlite_lands_the_same_rows(tmp_path, monkeypatch, bulk_runs):
    source = tmp_path / "sis.db"
    engine_bulk.make_source(source, 777)
    results = {}
    for path in ("per-record", "bulk"):
        monkeypatch.setenv("KOPPEL_BULK", "0" if path == "per-record" else "1")
        target = tmp_path / f"{path}-target.db"
        engine = engine_bulk.engine(tmp_path, source, f"sqlite:///{target}", f"sqlite:///{tmp_path / f'{path}.db'}",
                                    None)
        summary = engine.run_interface(0, trigger="outbox")
        assert summary.outcome == "ok", summary
        results[path] = (summary.delivered, engine.store.cursor(0, "db"), _sqlite_table(target, "enrollment"),
                         _sqlite_table(target, "membership"))
        engine.close()
    assert bulk_runs == [1]
    assert results["bulk"] == results["per-record"]
    assert len(results["bulk"][2][1]) == 777


def test_outbox_changes_and_deletes_propagate_after_a_bulk_first_load(tmp_path, pg_url, bulk_runs):
    source = tmp_path / "sis.db"
    engine_bulk.make_source(source, 600)
    engine = engine_bulk.engine(tmp_path, source, pg_url, f"sqlite:///{tmp_path / 'state.db'}", "dl")
    assert engine.run_interface(0, trigger="outbox").outcome == "ok"
    assert engine.store.cursor(0, "db") == '{"outbox": 1}'
    db = sqlite3.connect(source)
    db.execute("UPDATE enrollment SET credits = 999 WHERE enrollment_id = 5")
    db.execute("DELETE FROM enrollment WHERE enrollment_id = 6")
    db.execute("INSERT INTO enrollment (enrollment_id, student_number) VALUES (9001, 'S9001')")
    db.execute("DELETE FROM membership WHERE group_code = 'G1' AND person_number = 'P1'")
    db.executemany("INSERT INTO outbox (object, key, op, changed_at) VALUES (?, ?, ?, '2026-02-01')",
                   [("enrollment", "5", "upsert"), ("enrollment", "6", "delete"), ("enrollment", "9001", "upsert"),
                    ("membership", "G1|P1", "delete")])
    db.commit()
    db.close()
    summary = engine.run_interface(0, trigger="outbox")
    assert summary.outcome == "ok" and summary.read == 4
    assert engine.store.cursor(0, "db") == '{"outbox": 5}'
    engine.close()
    _, rows = _pg_table(pg_url, "dl", "enrollment")
    by_id = {r[0]: r for r in rows}
    assert by_id[5][2] == 999 and 6 not in by_id and 9001 in by_id and len(rows) == 600
    _, members = _pg_table(pg_url, "dl", "membership")
    assert ("G1", "P1", "lid") not in members and len(members) == 59


def test_a_row_the_target_refuses_is_a_dead_letter_and_the_others_arrive(tmp_path, pg_url, bulk_runs):
    source = tmp_path / "sis.db"
    engine_bulk.make_source(source, 1_000, bad_at=555)  # text in an integer column, mid-group
    engine = engine_bulk.engine(tmp_path, source, pg_url, f"sqlite:///{tmp_path / 'state.db'}", "dl")
    summary = engine.run_interface(0, trigger="outbox")
    assert summary.outcome == "partial" and summary.dead == 1, summary
    dead = engine.store.dead_letters(interface_id=0)
    assert [d["source_key"] for d in dead] == ["555"]
    assert engine.store.cursor(0, "db") == '{"outbox": 1}'  # handled: delivered or dead-lettered
    engine.close()
    _, rows = _pg_table(pg_url, "dl", "enrollment")
    assert len(rows) == 999 and 555 not in {r[0] for r in rows}


def test_the_cursor_moves_only_after_the_rows_before_it_are_durable(tmp_path, pg_url, bulk_runs, monkeypatch):
    """The order of events at the target and in the state store: every recorded cursor move comes
    after a commit at the target that followed the last rows written; rows written without
    durability are never followed by a cursor move before such a commit."""
    from plugins.db.target import TableTarget
    from runtime.engine.state.store import StateStore

    events: list[str] = []
    write_rows, make_durable, commit_batch = TableTarget.write_rows, TableTarget._make_durable, StateStore.commit_batch

    def spy_write_rows(self, rows, *, durable=True):
        events.append("rows")
        return write_rows(self, rows, durable=durable)

    def spy_durable(self):
        make_durable(self)
        events.append("durable")

    def spy_commit(self, *args, move_cursor=False, **kwargs):
        events.append("cursor" if move_cursor else "counts")
        return commit_batch(self, *args, move_cursor=move_cursor, **kwargs)

    monkeypatch.setattr(TableTarget, "write_rows", spy_write_rows)
    monkeypatch.setattr(TableTarget, "_make_durable", spy_durable)
    monkeypatch.setattr(StateStore, "commit_batch", spy_commit)
    source = tmp_path / "sis.db"
    engine_bulk.make_source(source, 900)
    for mode in ("incremental", "incremental"):  # a first load, then a run that finds changes
        engine = engine_bulk.engine(tmp_path, source, pg_url, f"sqlite:///{tmp_path / 'state.db'}", "dl", mode=mode)
        assert engine.run_interface(0).outcome == "ok"
        engine.close()
        db = sqlite3.connect(source)
        db.execute("UPDATE enrollment SET updated_at = '2026-03-01 00:00:00' WHERE enrollment_id % 3 = 0")
        db.commit()
        db.close()
    assert events.count("cursor") >= 4 and events.count("rows") > events.count("durable") > 2
    pending = False
    for event in events:
        if event == "rows":
            pending = True
        elif event == "durable":
            pending = False
        elif event in ("cursor", "counts"):
            assert not pending, events  # nothing recorded while rows are not yet durable


def test_a_group_the_target_loses_is_sent_again_record_by_record(tmp_path, pg_url, bulk_runs, monkeypatch):
    """``flush`` fails once mid-load (the target rolled the open group back): the engine sends that
    group again through the per-record path; every row arrives, the cursor lands at the end."""
    from plugins.db.target import TableTarget
    from runtime.errors import TransientError

    make_durable, failures = TableTarget._make_durable, []

    def flaky(self):
        if not failures and self._copy is not None:
            failures.append(1)
            raise TransientError("connection reset")
        make_durable(self)

    monkeypatch.setattr(TableTarget, "_make_durable", flaky)
    source = tmp_path / "sis.db"
    engine_bulk.make_source(source, 1_000)
    engine = engine_bulk.engine(tmp_path, source, pg_url, f"sqlite:///{tmp_path / 'state.db'}", "dl")
    summary = engine.run_interface(0, trigger="outbox")
    assert failures == [1]
    assert summary.outcome == "ok" and summary.failed == 0 and summary.delivered == 1_000 + 100 + 4, summary
    assert engine.store.cursor(0, "db") == '{"outbox": 1}'
    engine.close()
    _, rows = _pg_table(pg_url, "dl", "enrollment")
    assert [r[0] for r in rows] == list(range(1, 1_001))


@pytest.mark.slow
def test_a_kill_mid_load_resumes_without_loss(tmp_path, pg_url):
    """SIGKILL while the first load streams (after some groups were committed, so the next run
    finds a half-filled table): the next run copies everything again, nothing lost or doubled."""
    count = 60_000
    source = tmp_path / "sis.db"
    engine_bulk.make_source(source, count)
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    args = [sys.executable, str(WORKER), str(tmp_path), str(source), pg_url, state_url, "dl"]
    # a killed worker's lease must expire soon: the next run waits for it (lease.py)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "KOPPEL_LEASE_TTL": "1.5"}
    worker = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    import psycopg

    landed = 0
    deadline = time.monotonic() + 120
    try:
        with psycopg.connect(_psycopg_url(pg_url), autocommit=True) as conn:
            while time.monotonic() < deadline and worker.poll() is None:
                try:
                    landed = conn.execute("SELECT count(*) FROM dl.enrollment").fetchone()[0]
                except psycopg.errors.UndefinedTable:
                    landed = 0
                if landed >= 5_000:
                    break
                time.sleep(0.02)
    finally:
        worker.send_signal(signal.SIGKILL)
        out, err = worker.communicate()
    assert worker.returncode == -signal.SIGKILL, (out, err)  # killed mid-load, not finished
    assert 0 < landed < count
    engine = engine_bulk.engine(tmp_path, source, pg_url, state_url, "dl", batch_size=1_000)
    assert engine.store.cursor(0, "db") is None  # a first load moves its cursor only at its end
    summary = engine.run_interface(0, trigger="outbox", lease_wait=30)
    assert summary.outcome == "ok", summary
    assert engine.store.cursor(0, "db") == '{"outbox": 1}'
    engine.close()
    _, rows = _pg_table(pg_url, "dl", "enrollment")
    assert [r[0] for r in rows] == list(range(1, count + 1))
    assert rows[42][:3] == (43, "S100043", 43)


def test_a_drain_mid_load_records_what_is_durable_and_the_next_run_completes(tmp_path, pg_url, bulk_runs):
    source = tmp_path / "sis.db"
    engine_bulk.make_source(source, 2_000)
    engine = engine_bulk.engine(tmp_path, source, pg_url, f"sqlite:///{tmp_path / 'state.db'}", "dl")
    seen = []

    def drain_after_the_first_group(counts: dict) -> None:
        seen.append(counts["delivered"])
        if counts["delivered"] >= 250:
            engine.stop()

    summary = engine.run_interface(0, trigger="outbox", progress=drain_after_the_first_group)
    assert summary.outcome == "stopped" and 250 <= summary.delivered < 2_000, summary
    assert engine.store.cursor(0, "db") is None  # the first load did not end: its cursor did not move
    engine.close()
    engine = engine_bulk.engine(tmp_path, source, pg_url, f"sqlite:///{tmp_path / 'state.db'}", "dl")
    assert engine.run_interface(0, trigger="outbox").outcome == "ok"
    assert engine.store.cursor(0, "db") == '{"outbox": 1}'
    engine.close()
    _, rows = _pg_table(pg_url, "dl", "enrollment")
    assert [r[0] for r in rows] == list(range(1, 2_001))


def test_the_outbox_chunks_of_a_run_are_one_upsert_and_one_commit_and_the_cursor_lands_at_the_end(
        tmp_path, pg_url, bulk_runs, monkeypatch):
    """230 changes in chunks of 100 (each carrying the outbox position): one group, so the target
    applies one upsert and commits once, and only then the cursor moves, to the last change. A key
    changed in two chunks of one run lands once per chunk, without a conflict."""
    from plugins.db.dialects import PostgresDialect
    from plugins.db.target import TableTarget

    source = tmp_path / "sis.db"
    engine_bulk.make_source(source, 600)
    engine = engine_bulk.engine(tmp_path, source, pg_url, f"sqlite:///{tmp_path / 'state.db'}", "dl")
    assert engine.run_interface(0, trigger="outbox").outcome == "ok"
    events: list[str] = []
    apply, make_durable = PostgresDialect.apply_upsert_stage, TableTarget._make_durable
    monkeypatch.setattr(PostgresDialect, "apply_upsert_stage",
                        lambda self, *a: events.append("upsert") or apply(self, *a))
    monkeypatch.setattr(TableTarget, "_make_durable", lambda self: make_durable(self) or events.append("durable"))

    def change(ids: list[int], credits: int) -> None:
        db = sqlite3.connect(source)
        db.execute(f"UPDATE enrollment SET credits = {credits} WHERE enrollment_id IN ({','.join(map(str, ids))})")
        db.executemany("INSERT INTO outbox (object, key, op, changed_at) VALUES ('enrollment', ?, 'upsert', "
                       "'2026-02-01')", [(str(i),) for i in ids])
        db.commit()
        db.close()

    change(list(range(1, 231)), 1000)
    summary = engine.run_interface(0, trigger="outbox")
    assert summary.outcome == "ok" and summary.read == 230
    assert events == ["upsert", "durable"]
    assert engine.store.cursor(0, "db") == '{"outbox": 231}'
    change([5, *range(300, 399)], 2000)  # the first chunk: 5 and 99 others
    change([399, 5], 3000)  # the second: 5 again
    events.clear()
    summary = engine.run_interface(0, trigger="outbox")
    assert summary.outcome == "ok" and summary.read == 102
    assert events == ["upsert", "upsert", "durable"]  # 5 came again: the first stage applied first
    assert engine.store.cursor(0, "db") == '{"outbox": 333}'
    engine.close()
    _, rows = _pg_table(pg_url, "dl", "enrollment")
    by_id = {r[0]: r[2] for r in rows}
    assert (by_id[5], by_id[300], by_id[399], by_id[230], by_id[231], len(rows)) == (3000, 2000, 3000, 1000, 231 % 240, 600)
