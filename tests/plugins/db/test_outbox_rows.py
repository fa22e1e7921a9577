"""The outbox's changes on the bulk path (issue 15): per outbox chunk the current rows of the
changed keys as one ``Rows`` (one upsert at the target, not a Record and an Item each), the deletes
as records, the chunk's outbox position on its last batch; what they say is what ``read`` says."""

from __future__ import annotations

import json

from plugins.db.schema import TimestampText

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
