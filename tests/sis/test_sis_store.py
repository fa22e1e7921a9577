"""The store itself: schema by migration, outbox rows from any client, NOTIFY, gap safety."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import inspect

from runtime.sis import schema
from runtime.sis.models import OBJECTS, natural_key
from runtime.sis.outbox import OutboxReader


def test_init_creates_every_object_table_and_is_idempotent(store):
    engine = schema.engine(store.url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert set(OBJECTS) | {"outbox", "sis_alembic_version"} <= tables
        assert "alembic_version" not in tables  # the engine's own history stays free
        for name in OBJECTS:
            columns = {c["name"] for c in inspect(engine).get_columns(name)}
            assert {"created_at", "updated_at"} <= columns
            assert set(natural_key(name)) <= columns
        assert schema.current_revision(engine) == schema.head_revision()
    finally:
        engine.dispose()
    before, after = schema.init(store.url)
    assert before == after == schema.head_revision()


def _outbox(store, after: int = 0):
    return store.sql("SELECT object, key, op FROM outbox WHERE seq > ? ORDER BY seq", (after,))


def test_changes_by_another_client_land_in_the_outbox(store):
    store.sql("INSERT INTO qualification (crebo, name, level) VALUES ('25998', 'Software developer', 4)")
    store.sql("UPDATE qualification SET name = 'Software developer (2025)' WHERE crebo = '25998'")
    store.sql("UPDATE qualification SET name = 'Software developer (2025)' WHERE crebo = '25998'")  # no change
    store.sql("INSERT INTO company (sbb_code, name) VALUES ('100000017', 'Jansen IT Services')")
    store.sql("INSERT INTO recognition (sbb_code, crebo, leerweg) VALUES ('100000017', '25998', 'BOL')")
    store.sql("DELETE FROM company WHERE sbb_code = '100000017'")  # cascades to the recognition
    rows = _outbox(store)
    assert rows[:4] == [
        ("qualification", "25998", "insert"),
        ("qualification", "25998", "update"),
        ("company", "100000017", "insert"),
        ("recognition", "100000017|25998|BOL", "insert"),
    ]
    assert sorted(rows[4:]) == [("company", "100000017", "delete"), ("recognition", "100000017|25998|BOL", "delete")]
    seqs = [r[0] for r in store.sql("SELECT seq FROM outbox ORDER BY seq")]
    assert seqs == sorted(set(seqs))


def test_update_by_another_client_moves_updated_at(store):
    store.sql("INSERT INTO qualification (crebo, name, level) VALUES ('25604', 'ICT-support', 2)")
    (created, before), = store.sql("SELECT created_at, updated_at FROM qualification")
    time.sleep(0.02)
    store.sql("UPDATE qualification SET level = 3 WHERE crebo = '25604'")
    (created_after, after), = store.sql("SELECT created_at, updated_at FROM qualification")
    assert created_after == created
    assert after > before


def test_seeded_store_update_with_plain_sql_appears_in_the_outbox(seeded):
    last = seeded.sql("SELECT max(seq) FROM outbox")[0][0]
    student = seeded.sql("SELECT student_number FROM student ORDER BY student_number LIMIT 1")[0][0]
    seeded.sql("UPDATE student SET status = 'uitgeschreven' WHERE student_number = ?", (student,))
    assert _outbox(seeded, last) == [("student", student, "update")]


def test_reader_reads_in_order_with_filter_limit_and_horizon(store):
    for i in range(5):
        store.sql(f"INSERT INTO company (sbb_code, name) VALUES ('10000001{i}', 'C{i}')")
        store.sql(f"INSERT INTO qualification (crebo, name, level) VALUES ('2500{i}', 'Q{i}', 2)")
    with OutboxReader(store.url) as reader:
        assert reader.max_seq() == 10
        rows = reader.read_after(0, ["company"], limit=3)
        assert [r.key for r in rows] == ["100000010", "100000011", "100000012"]
        assert reader.horizon == rows[-1].seq
        rest = reader.read_after(reader.horizon, ["company"], limit=10)
        assert [r.key for r in rest] == ["100000013", "100000014"]
        assert reader.horizon == 10  # the trailing qualification rows were seen too
        assert reader.read_after(10, None, 10) == []
        assert rows[0].op == "insert" and rows[0].changed_at.tzinfo is not None


def test_wait_wakes_on_a_change_by_another_client(store):
    with OutboxReader(store.url, poll_interval=0.05) as reader:
        reader.max_seq()
        assert reader.wait(0.2) is False
        timer = threading.Timer(
            0.3, lambda: store.sql("INSERT INTO company (sbb_code, name) VALUES ('100000029', 'X')")
        )
        started = time.monotonic()
        timer.start()
        try:
            assert reader.wait(10) is True
        finally:
            timer.join()
        assert time.monotonic() - started < 5
        assert [r.key for r in reader.read_after(0, None, 10)] == ["100000029"]


@pytest.mark.postgres
def test_postgresql_notify_reaches_a_second_connection(store):
    if store.engine_name != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL only")
    listener = store.connect()
    listener.execute("LISTEN koppel_outbox")
    store.sql("INSERT INTO company (sbb_code, name) VALUES ('100000030', 'Y')")
    payloads = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    listener.close()
    assert payloads == ["company"]


@pytest.mark.postgres
def test_postgresql_reader_holds_back_behind_an_open_transaction(store):
    """seq 1 belongs to a transaction still open when seq 2 commits: 2 must wait for 1."""
    if store.engine_name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no gaps can fill later")
    slow = store.connect()
    slow.autocommit = False
    slow.execute("INSERT INTO company (sbb_code, name) VALUES ('100000041', 'slow')")  # takes seq 1
    store.sql("INSERT INTO company (sbb_code, name) VALUES ('100000042', 'fast')")  # seq 2, committed
    with OutboxReader(store.url) as reader:
        assert reader.read_after(0, None, 10) == []
        assert reader.horizon == 0
        slow.commit()
        assert [r.key for r in reader.read_after(0, None, 10)] == ["100000041", "100000042"]
        # a rolled-back transaction leaves a gap that is passed once it is over
        slow.execute("INSERT INTO company (sbb_code, name) VALUES ('100000043', 'gone')")  # seq 3
        store.sql("INSERT INTO company (sbb_code, name) VALUES ('100000044', 'kept')")  # seq 4
        assert reader.read_after(2, None, 10) == []
        slow.rollback()
        # The reader passes the gap once no older transaction is open anywhere on the server;
        # another client's transaction (on a shared server, in another database) can hold it a
        # moment longer.
        deadline = time.monotonic() + 15
        while not (keys := [r.key for r in reader.read_after(2, None, 10)]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert keys == ["100000044"]
    slow.close()


def test_a_changed_natural_key_is_a_delete_of_the_old_one(store):
    store.sql("INSERT INTO company (sbb_code, name) VALUES ('100000050', 'Old BV')")
    store.sql("INSERT INTO recognition (sbb_code, crebo, leerweg) VALUES ('100000050', '25998', 'BOL')")
    last = store.sql("SELECT max(seq) FROM outbox")[0][0]
    store.sql("UPDATE company SET sbb_code = '100000051' WHERE sbb_code = '100000050'")  # cascades
    rows = sorted(_outbox(store, last))
    assert rows == [
        ("company", "100000050", "delete"), ("company", "100000051", "update"),
        ("recognition", "100000050|25998|BOL", "delete"), ("recognition", "100000051|25998|BOL", "update"),
    ]
