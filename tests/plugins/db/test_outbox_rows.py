"""The outbox's changes on the bulk path (issue 15): per outbox chunk the current rows of the
changed keys as one ``Rows`` (one upsert at the target, not a Record and an Item each), the deletes
as records, the chunk's outbox position on its last batch; what they say is what ``read`` says."""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest

from plugins.db import bulkwrite
from plugins.db import source as source_module
from plugins.db.schema import TimestampText
from plugins.db.source import TableSource
from plugins.db.spec import DbSource, DbTarget
from plugins.db.target import TableTarget
from runtime.plugin import Item

from .conftest import context
from .test_replication import sis, source  # noqa: F401 - the sis fixture


def _changes(db, ops: list[tuple[str, str]]) -> None:
    db.executemany("INSERT INTO outbox (object, key, op, changed_at) VALUES ('student', ?, ?, '2026-02-01')", ops)
    db.commit()


def _said(batches) -> list[tuple[str, str, dict]]:
    """(operation, key, data) of every change, rows and records alike, sorted by key."""
    out = []
    for b in batches:
        records = b.rows.to_records() if b.rows is not None else b.records
        out += [(r.operation, r.key, r.data) for r in records]
    return sorted(out, key=lambda x: x[1])


def test_changes_come_as_one_rows_per_chunk_and_deletes_as_records(tmp_path, sis):  # noqa: F811
    db, dsn = sis
    db.execute("DELETE FROM student WHERE student_number IN ('S007', 'S008')")
    _changes(db, [("S005", "upsert"), ("S007", "delete"), ("S006", "upsert"), ("S008", "upsert"),
                  ("S005", "upsert"), ("S009", "upsert")])
    start = json.dumps({"outbox": 0})
    bulk = list(source(tmp_path, dsn, mode="outbox", batch_size=4).read_rows(start))
    per_record = list(source(tmp_path, dsn, mode="outbox", batch_size=4).read(start))
    # chunk 1 (seq 1-4): rows S005, S006; deletes S007, S008 (gone from the table)
    # chunk 2 (seq 5-6): rows S005, S009
    shapes = [("rows" if b.rows is not None else "records", b.cursor) for b in bulk]
    assert shapes == [("rows", None), ("records", '{"outbox": 4}'), ("rows", '{"outbox": 6}')]
    assert [len(b.rows) for b in bulk if b.rows is not None] == [2, 2]
    assert _said(bulk) == _said(per_record)
    assert [b.cursor for b in per_record] == ['{"outbox": 4}', '{"outbox": 6}']
    rows = bulk[0].rows
    assert type(rows.data[0][rows.columns.index("updated_at")]) is TimestampText  # typed as on a table read


def test_a_chunk_of_deletes_only_carries_its_position_on_the_records(tmp_path, sis):  # noqa: F811
    db, dsn = sis
    db.execute("DELETE FROM student WHERE student_number = 'S010'")
    _changes(db, [("S010", "delete")])
    bulk = list(source(tmp_path, dsn, mode="outbox").read_rows(json.dumps({"outbox": 0})))
    assert len(bulk) == 1 and bulk[0].rows is None and bulk[0].cursor == '{"outbox": 1}'
    assert [(r.operation, r.key, r.data) for r in bulk[0].records] == [("delete", "S010", {"student_number": "S010"})]


def test_more_changed_keys_than_one_query_takes_still_make_one_rows(tmp_path, sis):  # noqa: F811
    db, dsn = sis
    db.executemany("INSERT INTO student (student_number, name, credits) VALUES (?, ?, 1)",
                   [(f"T{i:04}", f"Student {i}") for i in range(1, 601)])
    _changes(db, [(f"T{i:04}", "upsert") for i in range(1, 601)])  # a query takes 500 keys
    bulk = list(source(tmp_path, dsn, mode="outbox", batch_size=1000).read_rows(json.dumps({"outbox": 0})))
    assert len(bulk) == 1 and len(bulk[0].rows) == 600 and bulk[0].cursor == '{"outbox": 600}'
    assert sorted(r.key for r in bulk[0].rows.to_records()) == [f"T{i:04}" for i in range(1, 601)]


# -- the changes of one chunk against a store of either kind (SQLite, or PostgreSQL as the source) --

STORE_TABLES = [{"name": "student", "key": ["student_number"]},
                {"name": "period", "key": ["enrollment_id", "period_number"]}]

#: seq 1..8; S3 and 9|9 are not in their tables (deleted); S1 and 1|1 change twice
CHANGES = [("student", "S1"), ("period", "1|1"), ("student", "S2"), ("student", "S1"), ("period", "9|9"),
           ("student", "S3"), ("period", "1|2"), ("period", "1|1")]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """(execute, dsn) of an SIS-like store: ``student`` (one text key), ``period`` (two integer key
    columns) and an outbox holding ``CHANGES``."""
    ddl = ["CREATE TABLE student (student_number TEXT PRIMARY KEY, name TEXT, updated_at TIMESTAMP)",
           "CREATE TABLE period (enrollment_id INTEGER, period_number INTEGER, hours INTEGER, "
           "PRIMARY KEY (enrollment_id, period_number))"]
    if request.param == "sqlite":
        db = sqlite3.connect(tmp_path / "sis.db")
        dsn, mark = f"sqlite:///{tmp_path / 'sis.db'}", "?"
        ddl.append("CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, object TEXT, key TEXT, op TEXT)")
    else:
        import psycopg

        pg_url = request.getfixturevalue("pg_url")
        schema = f"s_{uuid.uuid4().hex[:8]}"
        db = psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True)
        db.execute(f"CREATE SCHEMA {schema}")
        db.execute(f"SET search_path TO {schema}")
        dsn, mark = f"{pg_url}?options=-csearch_path%3D{schema}", "%s"
        ddl.append("CREATE TABLE outbox (seq BIGSERIAL PRIMARY KEY, object TEXT, key TEXT, op TEXT)")

    def execute(sql: str, params=()):
        db.execute(sql.replace("?", mark), params)
        if request.param == "sqlite":
            db.commit()

    for statement in ddl:
        execute(statement)
    for key, name in (("S1", "One"), ("S2", "Two")):
        execute("INSERT INTO student VALUES (?, ?, '2026-02-01 10:00:00')", (key, name))
    for enrollment, period in ((1, 1), (1, 2)):
        execute("INSERT INTO period VALUES (?, ?, 8)", (enrollment, period))
    for obj, key in CHANGES:
        execute("INSERT INTO outbox (object, key, op) VALUES (?, ?, 'upsert')", (obj, key))
    yield execute, dsn
    db.close()


def _store_source(tmp_path, dsn, batch_size=100):
    spec = DbSource(type="db", system="sis", mode="outbox", tables=STORE_TABLES)
    return TableSource(spec, context(tmp_path, dsn, name="sis", batch_size=batch_size))


@pytest.mark.parametrize("per_query", [500, 2], ids=["one query", "2 keys a query"])
def test_a_chunk_gives_each_key_once_its_row_or_its_delete_on_either_store(tmp_path, store, per_query, monkeypatch):
    _execute, dsn = store
    monkeypatch.setattr(source_module, "KEYS_PER_QUERY", per_query)
    start = json.dumps({"outbox": 0})
    bulk = list(_store_source(tmp_path, dsn).read_rows(start))
    per_record = list(_store_source(tmp_path, dsn).read(start))
    assert [b.cursor for b in bulk] == [None, None, '{"outbox": 8}'] and bulk[2].rows is None
    found = {b.rows.object: sorted(map(tuple, b.rows.data)) for b in bulk[:2]}
    assert [row[:2] for row in found["student"]] == [("S1", "One"), ("S2", "Two")]
    assert found["period"] == [(1, 1, 8), (1, 2, 8)]
    assert sorted((r.operation, r.object, r.key, r.data) for r in bulk[2].records) == [
        ("delete", "period", "9|9", {"enrollment_id": "9", "period_number": "9"}),
        ("delete", "student", "S3", {"student_number": "S3"})]
    # the record path: the same changes, each key at the place of its last change
    assert [(r.operation, r.key) for r in per_record[0].records] == [
        ("upsert", "S2"), ("upsert", "S1"), ("delete", "9|9"), ("delete", "S3"), ("upsert", "1|2"), ("upsert", "1|1")]
    assert _said(bulk) == _said(per_record)


def _apply(src, tgt, cursor: str) -> str:
    """The engine's bulk path in short: rows streamed without a durable point, records after the
    rows before them are made durable, the last cursor once everything is."""
    for batch in src.read_rows(cursor):
        if batch.rows is not None:
            tgt.write_rows(batch.rows, durable=False)
        else:
            tgt.flush()
            assert all(o.ok for o in tgt.write([Item(r.key, r.data, r.key, operation=r.operation, object=r.object)
                                                for r in batch.records]))
        cursor = batch.cursor or cursor
    tgt.flush()
    src.close()
    tgt.close()
    return cursor


@pytest.mark.parametrize("behind", [None, 1], ids=["stage at the durable point", "every stage applied behind"])
@pytest.mark.parametrize("target_kind", ["sqlite", "postgresql"])
def test_the_changes_land_at_either_target_deletes_included(tmp_path, store, target_kind, behind, request,
                                                             monkeypatch):
    execute, dsn = store
    if behind is not None:  # PostgreSQL: each table's stage applied while the next rows are read
        monkeypatch.setattr(bulkwrite, "APPLY_BEHIND_ROWS", behind)
    if target_kind == "sqlite":
        target_dsn, schema = f"sqlite:///{tmp_path / 'datalaag.db'}", None
    else:
        target_dsn, schema = request.getfixturevalue("pg_url"), f"t_{uuid.uuid4().hex[:8]}"

    def target():
        spec = DbTarget.model_validate({"type": "db", "system": "datalaag", "schema": schema})
        return TableTarget(spec, context(tmp_path, target_dsn, name="datalaag"))

    def held(table: str) -> list[tuple]:
        probe = target()
        probe.open()
        try:
            qualified = f"{schema}.{table}" if schema else table
            return sorted(tuple(r) for r in probe.dialect.execute(f"SELECT * FROM {qualified}"))
        finally:
            probe.close()

    first = _apply(_store_source(tmp_path, dsn), target(), None)  # the snapshot, then the outbox
    assert first == '{"outbox": 8}'
    execute("INSERT INTO period VALUES (9, 9, 4)")  # back again
    execute("DELETE FROM student WHERE student_number = 'S1'")
    execute("UPDATE period SET hours = 6 WHERE enrollment_id = 1 AND period_number = 2")
    for obj, key in [("period", "9|9"), ("student", "S1"), ("period", "1|2"), ("student", "S2")]:
        execute("INSERT INTO outbox (object, key, op) VALUES (?, ?, 'upsert')", (obj, key))
    assert _apply(_store_source(tmp_path, dsn, batch_size=3), target(), first) == '{"outbox": 12}'
    assert [r[:2] for r in held("student")] == [("S2", "Two")]
    assert held("period") == [(1, 1, 8), (1, 2, 6), (9, 9, 4)]


def test_a_key_written_otherwise_in_the_outbox_finds_its_row_and_deletes_nothing(tmp_path, store):
    """An outbox key that is not the row's own text ('01|2' for the integer key 1|2, as a
    hand-written outbox row may hold it) still finds its row, as the database compares it: the row
    goes out as read, and no delete of that key follows it, which would remove the row at the
    target. A key whose row is gone ('9|09') is still a delete."""
    execute, dsn = store
    execute("DELETE FROM outbox")
    for key in ("01|2", "9|09"):
        execute("INSERT INTO outbox (object, key, op) VALUES ('period', ?, 'upsert')", (key,))
    start = json.dumps({"outbox": len(CHANGES)})  # the two rows above, seq 9 and 10
    bulk = list(_store_source(tmp_path, dsn).read_rows(start))
    per_record = list(_store_source(tmp_path, dsn).read(start))
    rows = [b.rows for b in bulk if b.rows is not None]
    assert [sorted(map(tuple, r.data)) for r in rows] == [[(1, 2, 8)]]
    deletes = [(r.operation, r.key) for b in bulk for r in b.records]
    assert deletes == [("delete", "9|09")]
    assert [(r.operation, r.key) for b in per_record for r in b.records] == [("delete", "9|09"), ("upsert", "1|2")]
