"""Replication from a SQLite SIS-like store into PostgreSQL: what the data layer relies on."""

from __future__ import annotations

import json
import sqlite3

import psycopg
import pytest

from plugins.db.source import TableSource
from plugins.db.spec import DbSource, DbTarget
from plugins.db.target import TableTarget
from runtime.errors import ConfigError

from .conftest import context, replicate

pytestmark = pytest.mark.postgres


@pytest.fixture()
def sis(tmp_path):
    path = tmp_path / "sis.db"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE student (student_number TEXT PRIMARY KEY, name TEXT, credits INTEGER,
                              born DATE, updated_at DATETIME);
        CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, object TEXT, key TEXT, op TEXT,
                             changed_at DATETIME);
    """)
    db.executemany("INSERT INTO student VALUES (?, ?, ?, ?, ?)", [
        (f"S{i:03}", f"Student {i}", i, "2008-05-0%d" % (i % 9 + 1), f"2026-01-01 10:00:{i % 60:02}.000000")
        for i in range(1, 251)])
    db.commit()
    yield db, f"sqlite:///{path}"
    db.close()


def source(tmp_path, dsn, mode="incremental", batch_size=100, **table):
    spec = DbSource(type="db", system="sis", mode=mode,
                    tables=[{"name": "student", "key": ["student_number"], **table}])
    return TableSource(spec, context(tmp_path, dsn, name="sis", batch_size=batch_size))


def target(tmp_path, pg_url, schema, **extra):
    spec = DbTarget.model_validate({"type": "db", "system": "datalaag", "schema": schema, **extra})
    return TableTarget(spec, context(tmp_path, pg_url, name="datalaag"))


def rows(pg_url, sql):
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        return conn.execute(sql).fetchall()


def test_incremental_first_load_then_only_changes(tmp_path, sis, pg_url, pg_schema):
    db, dsn = sis
    cursor, outcomes = replicate(source(tmp_path, dsn), target(tmp_path, pg_url, pg_schema))
    assert len(outcomes) == 250 and all(o.ok for o in outcomes)
    assert rows(pg_url, f"SELECT count(*) FROM {pg_schema}.student") == [(250,)]
    copied = rows(pg_url, f"SELECT student_number, name, credits, born::text FROM {pg_schema}.student ORDER BY 1")
    assert copied == [tuple(r) for r in db.execute("SELECT student_number, name, credits, born FROM student ORDER BY 1")]
    types = dict(rows(pg_url, f"SELECT column_name, data_type FROM information_schema.columns "
                              f"WHERE table_schema = '{pg_schema}' AND table_name = 'student'"))
    assert types["credits"] == "bigint" and types["born"] == "date"
    assert types["updated_at"] == "timestamp with time zone"

    db.execute("UPDATE student SET name = 'Renamed', updated_at = '2026-02-01 00:00:00.000000' WHERE student_number = 'S007'")
    db.execute("INSERT INTO student VALUES ('S900', 'New', 1, '2009-01-01', '2026-02-01 00:00:00.000000')")
    db.commit()
    cursor2, outcomes = replicate(source(tmp_path, dsn), target(tmp_path, pg_url, pg_schema), cursor)
    assert len(outcomes) == 2, "only the changed rows are read again"
    assert sorted(o.ok for o in outcomes) == [True, True]
    assert rows(pg_url, f"SELECT name FROM {pg_schema}.student WHERE student_number = 'S007'") == [("Renamed",)]
    assert rows(pg_url, f"SELECT count(*) FROM {pg_schema}.student") == [(251,)]
    assert replicate(source(tmp_path, dsn), target(tmp_path, pg_url, pg_schema), cursor2)[1] == []


def test_watermark_ties_are_neither_skipped_nor_repeated(tmp_path, sis, pg_url, pg_schema):
    db, dsn = sis
    cursor, _ = replicate(source(tmp_path, dsn), target(tmp_path, pg_url, pg_schema))
    db.execute("UPDATE student SET updated_at = '2026-03-01 00:00:00.000000'")  # 250 rows, one watermark
    db.commit()
    src = source(tmp_path, dsn, batch_size=40)
    batches = list(src.read(cursor))
    src.close()
    middle = batches[2].cursor  # stop after 120 rows, in the middle of the tie
    rest = [r.key for b in source(tmp_path, dsn, batch_size=40).read(middle) for r in b.records]
    first = [r.key for b in batches[:3] for r in b.records]
    assert len(first) == 120 and len(rest) == 130 and not set(first) & set(rest)


def test_first_load_is_read_once_and_sets_the_cursor_at_its_end(tmp_path, sis, pg_url, pg_schema):
    db, dsn = sis
    batches = list(source(tmp_path, dsn, batch_size=100).read(None))
    assert [b.cursor is None for b in batches] == [True, True, False]
    assert sum(len(b.records) for b in batches) == 250
    again = [r for b in source(tmp_path, dsn).read(batches[-1].cursor) for r in b.records]
    assert again == []


def test_several_tables_keep_their_positions_in_one_cursor(tmp_path, sis, pg_url, pg_schema):
    db, dsn = sis
    db.execute("CREATE TABLE program (code TEXT PRIMARY KEY, updated_at DATETIME)")
    db.execute("INSERT INTO program VALUES ('P1', '2026-01-01 00:00:00')")
    db.commit()
    spec = DbSource(type="db", system="sis", tables=[{"name": "student", "key": ["student_number"]},
                                                      {"name": "program", "key": ["code"]}])
    make = lambda: TableSource(spec, context(tmp_path, dsn, name="sis"))  # noqa: E731
    cursor, outcomes = replicate(make(), target(tmp_path, pg_url, pg_schema))
    assert len(outcomes) == 251 and set(json.loads(cursor)) == {"student", "program"}
    assert rows(pg_url, f"SELECT code FROM {pg_schema}.program") == [("P1",)]
    assert rows(pg_url, f"SELECT count(*) FROM {pg_schema}.student") == [(250,)]
    assert replicate(make(), target(tmp_path, pg_url, pg_schema), cursor)[1] == [], "nothing new: nothing read"


def test_full_refresh_deletes_what_is_gone_atomically(tmp_path, sis, pg_url, pg_schema):
    db, dsn = sis
    replicate(source(tmp_path, dsn, mode="full"), target(tmp_path, pg_url, pg_schema))
    db.execute("DELETE FROM student WHERE student_number IN ('S001', 'S002')")
    db.execute("UPDATE student SET name = 'Changed' WHERE student_number = 'S003'")
    db.commit()
    replicate(source(tmp_path, dsn, mode="full"), target(tmp_path, pg_url, pg_schema))
    assert rows(pg_url, f"SELECT count(*) FROM {pg_schema}.student") == [(248,)]
    assert rows(pg_url, f"SELECT name FROM {pg_schema}.student WHERE student_number = 'S003'") == [("Changed",)]
    assert rows(pg_url, f"SELECT count(*) FROM pg_tables WHERE schemaname = '{pg_schema}'") == [(1,)], \
        "the stage table is dropped after the refresh"


def test_outbox_mode_snapshots_then_applies_changes_and_deletes(tmp_path, sis, pg_url, pg_schema):
    db, dsn = sis
    db.execute("INSERT INTO outbox (object, key, op) VALUES ('student', 'S001', 'update')")
    db.commit()
    cursor, _ = replicate(source(tmp_path, dsn, mode="outbox"), target(tmp_path, pg_url, pg_schema))
    assert cursor == '{"outbox": 1}'
    assert rows(pg_url, f"SELECT count(*) FROM {pg_schema}.student") == [(250,)]
    db.execute("DELETE FROM student WHERE student_number = 'S010'")
    db.execute("UPDATE student SET credits = 99 WHERE student_number = 'S011'")
    db.executemany("INSERT INTO outbox (object, key, op) VALUES ('student', ?, ?)",
                   [("S010", "delete"), ("S011", "update"), ("S011", "update"), ("X", "insert")])
    db.execute("INSERT INTO outbox (object, key, op) VALUES ('program', 'P1', 'insert')")  # not replicated
    db.commit()
    cursor, outcomes = replicate(source(tmp_path, dsn, mode="outbox"), target(tmp_path, pg_url, pg_schema), cursor)
    assert cursor == '{"outbox": 5}'  # the last outbox row of a replicated table
    assert rows(pg_url, f"SELECT count(*) FROM {pg_schema}.student WHERE student_number = 'S010'") == [(0,)]
    assert rows(pg_url, f"SELECT credits FROM {pg_schema}.student WHERE student_number = 'S011'") == [(99,)]
    assert rows(pg_url, f"SELECT count(*) FROM {pg_schema}.student") == [(249,)]  # one deleted, none added
    assert rows(pg_url, f"SELECT count(*) FROM pg_tables WHERE schemaname = '{pg_schema}' AND tablename = 'program'") \
        == [(0,)], "a table that is not replicated is not created"


def test_new_column_is_added_and_incompatible_change_follows_policy(tmp_path, sis, pg_url, pg_schema):
    db, dsn = sis
    replicate(source(tmp_path, dsn, mode="full"), target(tmp_path, pg_url, pg_schema))
    db.execute("ALTER TABLE student ADD COLUMN email TEXT")
    db.execute("UPDATE student SET email = 'a@b.nl', credits = 'many' WHERE student_number = 'S001'")
    db.commit()
    with pytest.raises(ConfigError, match="credits"):
        replicate(source(tmp_path, dsn, mode="full"), target(tmp_path, pg_url, pg_schema))
    replicate(source(tmp_path, dsn, mode="full"),
              target(tmp_path, pg_url, pg_schema, on_incompatible_change="add_column"))
    assert rows(pg_url, f"SELECT email, credits, credits_text FROM {pg_schema}.student "
                        f"WHERE student_number = 'S001'") == [("a@b.nl", None, "many")]


def test_a_refused_row_fails_alone(tmp_path, pg_url, pg_schema):
    from runtime.plugin import Item

    t = target(tmp_path, pg_url, pg_schema, keys={"student": ["student_number"]})
    t.open()
    items = [Item(key=str(i), payload={"student_number": n, "credits": c}, source_key=str(i), object="student")
             for i, (n, c) in enumerate([("A", 1), (None, 2), ("B", 10**30), ("C", 3)])]
    outcomes = t.write(items)
    t.close()
    assert [o.ok for o in outcomes] == [True, False, False, True]
    assert rows(pg_url, f"SELECT student_number FROM {pg_schema}.student ORDER BY 1") == [("A",), ("C",)]


def test_views_are_created_for_the_iam(tmp_path, sis, pg_url, pg_schema):
    db, dsn = sis
    views = {"iam_students": "SELECT student_number AS id, name FROM student"}
    replicate(source(tmp_path, dsn), target(tmp_path, pg_url, pg_schema, views=views))
    assert rows(pg_url, f"SELECT count(*) FROM {pg_schema}.iam_students") == [(250,)]
    assert rows(pg_url, f"SELECT id, name FROM {pg_schema}.iam_students WHERE id IN ('S001', 'S250') ORDER BY 1") == [
        ("S001", "Student 1"), ("S250", "Student 250")]


def test_a_refresh_deletes_what_is_gone_by_an_anti_join_whatever_the_stage_size(pg_url, pg_schema):
    """The plan PostgreSQL makes for the refresh's delete once the stage outgrows ``work_mem``:
    ``NOT IN (SELECT ...)`` became a subplan scanned again for every row of the table (a refresh
    of 1M rows into 1M ran for over ten minutes); the anti-join reads each table once."""
    from plugins.db.dialects import PostgresDialect

    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        conn.execute(f"CREATE SCHEMA {pg_schema}")
        conn.execute(f"CREATE TABLE {pg_schema}.t (k1 text, k2 integer, v text, PRIMARY KEY (k1, k2))")
        conn.execute(f"INSERT INTO {pg_schema}.t SELECT 'a' || i, i, 'x' FROM generate_series(1, 20000) i")
        conn.execute(f"CREATE TABLE {pg_schema}.stage AS SELECT * FROM {pg_schema}.t WHERE k2 % 10 <> 0")
        conn.execute(f"ANALYZE {pg_schema}.t")
        conn.execute(f"ANALYZE {pg_schema}.stage")
        conn.execute("SET work_mem = '64kB'")  # the stage does not fit: as 1M rows do not fit 4MB
        dialect = PostgresDialect(conn)
        plans, run = [], dialect.execute

        def explained(sql, params=()):
            if sql.startswith("DELETE"):
                plans.append("\n".join(r[0] for r in run("EXPLAIN " + sql, params)))
            return run(sql, params)

        dialect.execute = explained  # type: ignore[method-assign]
        dialect.merge_stage(f"{pg_schema}.t", f"{pg_schema}.stage", ["k1", "k2", "v"], ["k1", "k2"])
        assert len(plans) == 1 and "Anti Join" in plans[0] and "SubPlan" not in plans[0], plans
        assert conn.execute(f"SELECT count(*), count(*) FILTER (WHERE k2 % 10 = 0) FROM {pg_schema}.t").fetchone() \
            == (18000, 0)


def test_a_refresh_into_sqlite_looks_the_stage_up_by_a_transient_index(tmp_path):
    """SQLite's counterpart: its delete reads the stage's keys into an index once (LIST
    SUBQUERY), not a scan of the stage per row (a correlated subquery over an unindexed table)."""
    from plugins.db.dialects import SqliteDialect

    conn = sqlite3.connect(tmp_path / "t.db")
    conn.execute("CREATE TABLE t (k1 TEXT, k2 INTEGER, v TEXT, PRIMARY KEY (k1, k2))")
    conn.executemany("INSERT INTO t VALUES (?, ?, 'x')", [(f"a{i}", i) for i in range(1, 2001)])
    dialect = SqliteDialect(conn)
    dialect.create_stage('"stage"', '"t"')
    conn.executemany('INSERT INTO "stage" VALUES (?, ?, ?)', [(f"a{i}", i, "y") for i in range(1, 2001) if i % 10])
    plans, run = [], dialect.execute

    def explained(sql, params=()):
        if sql.startswith("DELETE"):
            plans.append([r[3] for r in run("EXPLAIN QUERY PLAN " + sql, params)])
        return run(sql, params)

    dialect.execute = explained  # type: ignore[method-assign]
    dialect.merge_stage('"t"', '"stage"', ["k1", "k2", "v"], ["k1", "k2"])
    assert len(plans) == 1 and any("LIST SUBQUERY" in step for step in plans[0]), plans
    assert not any("CORRELATED" in step for step in plans[0]), plans
    assert conn.execute("SELECT count(*), min(v), max(v) FROM t").fetchone() == (1800, "y", "y")
