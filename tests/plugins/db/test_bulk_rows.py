"""The db plugin's bulk path (``read_rows`` / ``write_rows`` / ``flush``): rows that were not made
durable are never left behind half-way, and the source's tuples say what its records say."""

from __future__ import annotations

import threading

import psycopg
import pytest

from plugins.db import bulkwrite
from plugins.db.dialects import PostgresDialect
from plugins.db.schema import TimestampText
from runtime.plugin import Item, Rows

from .test_replication import rows, sis, source, target  # noqa: F401 - the sis fixture

pytestmark = pytest.mark.postgres


def _students(start: int, count: int) -> Rows:
    return Rows("student", ["student_number", "name", "credits"], ["student_number"],
                [(f"S{i:04}", f"Student {i}", i) for i in range(start, start + count)])


def _count(pg_url, schema) -> int:
    try:
        return rows(pg_url, f'SELECT count(*) FROM "{schema}".student')[0][0]
    except psycopg.errors.UndefinedTable:
        return 0


def test_rows_not_made_durable_are_rolled_back_at_close(tmp_path, pg_url, pg_schema):
    t = target(tmp_path, pg_url, pg_schema)
    t.write_rows(_students(0, 100), durable=True)
    t.write_rows(_students(100, 100), durable=False)
    assert _count(pg_url, pg_schema) == 100  # the second batch is still in the open COPY
    t.close()
    assert _count(pg_url, pg_schema) == 100


def test_flush_and_write_make_pending_rows_durable(tmp_path, pg_url, pg_schema):
    t = target(tmp_path, pg_url, pg_schema)
    t.write_rows(_students(0, 100), durable=False)
    t.write_rows(_students(100, 100), durable=False)
    t.flush()
    assert _count(pg_url, pg_schema) == 200
    t.write_rows(_students(200, 50), durable=False)
    outcomes = t.write([Item("S9999", {"student_number": "S9999", "name": "Los", "credits": 1}, "S9999",
                             object="student")])
    assert outcomes[0].ok and _count(pg_url, pg_schema) == 251
    t.close()


def test_a_refused_batch_leaves_nothing_of_its_group(tmp_path, pg_url, pg_schema):
    t = target(tmp_path, pg_url, pg_schema)
    t.write_rows(_students(0, 10), durable=True)
    t.write_rows(_students(10, 10), durable=False)
    bad = _students(20, 10)
    bad.data[3] = ("S0023", "Student 23", "veel")  # text in a BIGINT column
    with pytest.raises(Exception):
        t.write_rows(bad, durable=True)
    assert _count(pg_url, pg_schema) == 10  # the group (10..29) was rolled back, the first batch kept
    t.write_rows(_students(10, 20), durable=True)  # the engine sends the group again: it goes in
    assert _count(pg_url, pg_schema) == 30
    t.close()


def test_read_rows_gives_the_records_of_read(tmp_path, sis):  # noqa: F811
    _, dsn = sis
    by_records = [(b.cursor, [(r.key, r.data, r.object) for r in b.records]) for b in source(tmp_path, dsn).read(None)]
    bulk = list(source(tmp_path, dsn).read_rows(None))
    assert all(b.rows is not None and not b.records for b in bulk)
    assert [(b.cursor, [(r.key, r.data, r.object) for r in b.rows.to_records()]) for b in bulk] == by_records
    assert type(bulk[0].rows.data[0][bulk[0].rows.columns.index("updated_at")]) is TimestampText


@pytest.mark.parametrize("path", ["write", "write_rows"])
def test_a_table_whose_creation_a_lost_connection_took_along_is_created_again(tmp_path, pg_url, pg_schema,
                                                                               monkeypatch, path):
    """The connection breaks before the CREATE TABLE is committed: the engine sends the write again
    on a new connection, which must create the table again, not insert into one that is not there
    (that refused every row as 'relation does not exist', and they all went to the dead letters)."""
    from plugins.db.dialects import PostgresDialect
    from runtime.errors import TransientError

    create_table = PostgresDialect.create_table
    broken: list[str] = []

    def create_then_lose_the_connection(self, qtable, columns, keys):
        create_table(self, qtable, columns, keys)
        if not broken:
            broken.append(qtable)
            self.connection.pgconn.finish()  # the server never sees the COMMIT

    monkeypatch.setattr(PostgresDialect, "create_table", create_then_lose_the_connection)
    t = target(tmp_path, pg_url, pg_schema)
    batch = _students(0, 20)

    def send():
        if path == "write_rows":
            t.write_rows(batch, durable=True)
            return []
        return t.write([Item(r[0], dict(zip(batch.columns, r)), r[0], object="student") for r in batch.data])

    with pytest.raises(TransientError):
        send()
    assert broken and _count(pg_url, pg_schema) == 0
    outcomes = send()  # the engine's retry
    assert all(o.ok for o in outcomes) and _count(pg_url, pg_schema) == 20
    t.close()


@pytest.mark.parametrize("behind", [None, 1], ids=["one stage", "each batch applied behind"])
def test_upserts_of_a_group_land_once_at_its_durable_point_and_the_later_row_wins(tmp_path, pg_url, pg_schema,
                                                                                 behind, monkeypatch):
    """A table with rows takes upserts; the batches of a group stream into one stage that is applied
    when the group is made durable (or, from ``APPLY_BEHIND_ROWS`` rows on, while the source reads
    on, but not committed): a key that comes again in a later batch ends with its later row, and
    nothing of the group is visible (or left behind at a close) before its durable point."""
    if behind is not None:
        monkeypatch.setattr(bulkwrite, "APPLY_BEHIND_ROWS", behind)
    first = target(tmp_path, pg_url, pg_schema)
    first.write_rows(_students(0, 50), durable=True)
    first.close()
    t = target(tmp_path, pg_url, pg_schema)  # the next run: the table has rows

    def changed(start: int, count: int, credits: int) -> Rows:
        batch = _students(start, count)
        batch.data = [(n, name, credits) for n, name, _ in batch.data]
        return batch

    t.write_rows(changed(0, 20, 100), durable=False)
    t.write_rows(changed(40, 20, 200), durable=False)  # 40..49 change, 50..59 are new
    t.write_rows(changed(10, 20, 300), durable=False)  # 10..19 come again: the later row wins
    assert rows(pg_url, f'SELECT sum(credits) FROM "{pg_schema}".student')[0][0] == sum(range(50))
    t.flush()
    got = dict(rows(pg_url, f'SELECT student_number, credits FROM "{pg_schema}".student'))
    want = {f"S{i:04}": 100 if i < 10 else 300 if i < 30 else 200 if i >= 40 else i for i in range(60)}
    assert got == want
    t.write_rows(changed(0, 60, 7), durable=False)
    t.close()  # not made durable: rolled back
    assert dict(rows(pg_url, f'SELECT student_number, credits FROM "{pg_schema}".student')) == want


def test_a_write_of_records_into_a_table_of_their_shape_commits_once(tmp_path, pg_url, pg_schema, monkeypatch):
    """The per-record path's write: the DDL gets a commit of its own only when there is DDL."""
    t = target(tmp_path, pg_url, pg_schema)
    batch = _students(0, 10)
    items = [Item(r[0], dict(zip(batch.columns, r)), r[0], object="student") for r in batch.data]
    assert all(o.ok for o in t.write(items[:5]))  # creates the table: two commits
    commits: list[int] = []
    commit = psycopg.Connection.commit
    monkeypatch.setattr(psycopg.Connection, "commit", lambda self: commits.append(1) or commit(self))
    assert all(o.ok for o in t.write(items[5:]))
    assert len(commits) == 1 and _count(pg_url, pg_schema) == 10
    t.close()


def _table_with_rows(tmp_path, pg_url, pg_schema, *, check: str | None = None):
    """A target whose table already holds S0000..S0049 (so rows are upserted), ``check`` a
    constraint the table gets (the stage does not: only the upsert refuses a row)."""
    first = target(tmp_path, pg_url, pg_schema)
    first.write_rows(_students(0, 50), durable=True)
    first.close()
    if check:
        with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
            conn.execute(f'ALTER TABLE "{pg_schema}".student ADD CHECK ({check})')
    return target(tmp_path, pg_url, pg_schema)


def _credits(batch: Rows, credits: int) -> Rows:
    batch.data = [(n, name, credits) for n, name, _ in batch.data]
    return batch


def test_a_large_stage_is_applied_while_the_caller_goes_on_and_committed_only_at_the_durable_point(
        tmp_path, pg_url, pg_schema, monkeypatch):
    """From ``APPLY_BEHIND_ROWS`` rows on, ``write_rows`` returns while the server applies the
    stage (the source reads the next batch meanwhile); ``flush`` waits for it, then commits."""
    monkeypatch.setattr(bulkwrite, "APPLY_BEHIND_ROWS", 20)
    apply = PostgresDialect.apply_upsert_stage
    began, release = threading.Event(), threading.Event()

    def held_apply(self, *args):
        began.set()
        release.wait(10)
        apply(self, *args)

    monkeypatch.setattr(PostgresDialect, "apply_upsert_stage", held_apply)
    t = _table_with_rows(tmp_path, pg_url, pg_schema)
    t.write_rows(_credits(_students(0, 30), 100), durable=False)  # returns with the apply held
    assert began.wait(5), "the stage was not applied before the durable point"
    release.set()
    assert _count(pg_url, pg_schema) == 50
    assert rows(pg_url, f'SELECT sum(credits) FROM "{pg_schema}".student')[0][0] == sum(range(50)), "not committed"
    t.flush()
    assert rows(pg_url, f'SELECT sum(credits) FROM "{pg_schema}".student')[0][0] == 30 * 100 + sum(range(30, 50))
    t.close()


@pytest.mark.parametrize("then", ["write_rows", "flush", "close"])
def test_a_stage_the_server_refuses_behind_the_caller_fails_its_group_at_the_next_call(tmp_path, pg_url, pg_schema,
                                                                                      monkeypatch, then):
    """The refusal of a stage applied behind is not lost: the next call raises it and rolls back
    everything not yet durable (the engine then sends the group again record by record); a close
    rolls it back quietly. The rows made durable before stay."""
    monkeypatch.setattr(bulkwrite, "APPLY_BEHIND_ROWS", 5)
    t = _table_with_rows(tmp_path, pg_url, pg_schema, check="credits >= 0")
    t.write_rows(_credits(_students(0, 10), 100), durable=True)
    t.write_rows(_credits(_students(10, 10), -1), durable=False)  # the stage goes in; its upsert fails
    if then == "close":
        t.close()
    else:
        with pytest.raises(psycopg.errors.CheckViolation):
            t.write_rows(_credits(_students(20, 10), 300), durable=False) if then == "write_rows" else t.flush()
    got = dict(rows(pg_url, f'SELECT student_number, credits FROM "{pg_schema}".student'))
    assert got == {f"S{i:04}": 100 if i < 10 else i for i in range(50)}
    if then != "close":
        t.write_rows(_credits(_students(10, 20), 7), durable=True)  # the connection goes on
        assert rows(pg_url, f'SELECT count(*) FROM "{pg_schema}".student WHERE credits = 7')[0][0] == 20
        t.close()


def test_a_connection_lost_under_a_stage_applied_behind_is_a_transient_failure(tmp_path, pg_url, pg_schema,
                                                                              monkeypatch):
    from runtime.errors import TransientError

    monkeypatch.setattr(bulkwrite, "APPLY_BEHIND_ROWS", 5)
    apply = PostgresDialect.apply_upsert_stage
    lost: list[bool] = []

    def apply_on_a_lost_connection(self, *args):
        if not lost:
            lost.append(True)
            self.connection.pgconn.finish()
        apply(self, *args)

    monkeypatch.setattr(PostgresDialect, "apply_upsert_stage", apply_on_a_lost_connection)
    t = _table_with_rows(tmp_path, pg_url, pg_schema)
    t.write_rows(_credits(_students(0, 10), 100), durable=False)
    with pytest.raises(TransientError):
        t.flush()
    assert rows(pg_url, f'SELECT count(*) FROM "{pg_schema}".student WHERE credits = 100')[0][0] == 0
    t.write_rows(_credits(_students(0, 10), 100), durable=True)  # the engine's retry, on a new connection
    assert rows(pg_url, f'SELECT count(*) FROM "{pg_schema}".student WHERE credits = 100')[0][0] == 10
    t.close()
