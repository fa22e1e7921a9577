"""runtime/sis/outbox.py on real SQLite and PostgreSQL: what each read returns, in which order,
where the horizon lands, and when the reader holds back behind a transaction still open.

Changes are made with plain SQL by "another client", as the college's SIS would; the outbox
rows come from the store's own triggers.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
import sqlalchemy as sa

from runtime.sis import outbox
from runtime.sis.outbox import OutboxReader, OutboxRow


def _sql(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as c:
        for statement in statements:
            c.execute(sa.text(statement))
    engine.dispose()


def _companies(url: str, codes: range) -> None:
    _sql(url, *(f"INSERT INTO company (sbb_code, name) VALUES ('{100000000 + i}', 'C{i}')" for i in codes))


def _keys(rows: list[OutboxRow]) -> list[str]:
    return [r.key for r in rows]


def test_an_empty_outbox(sis_url):
    with OutboxReader(sis_url, listen=False) as reader:
        assert reader.max_seq() == 0
        assert reader.read_after(0) == [] and reader.horizon == 0
        assert reader.last(5) == []


def test_rows_come_in_seq_order_with_their_op_object_key_and_utc_time(sis_url):
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    _companies(sis_url, range(3))
    _sql(sis_url, "UPDATE company SET name = 'X' WHERE sbb_code = '100000001'",
         "DELETE FROM company WHERE sbb_code = '100000002'")
    with OutboxReader(sis_url, listen=False) as reader:
        rows = reader.read_after(0)
        assert [(r.seq, r.object, r.key, r.op) for r in rows] == [
            (1, "company", "100000000", "insert"), (2, "company", "100000001", "insert"),
            (3, "company", "100000002", "insert"), (4, "company", "100000001", "update"),
            (5, "company", "100000002", "delete")]
        for r in rows:
            assert r.changed_at.utcoffset() == dt.timedelta(0)
            assert before <= r.changed_at <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
        assert reader.horizon == 5 and reader.max_seq() == 5


def test_reading_after_a_seq_starts_just_past_it(sis_url):
    _companies(sis_url, range(6))
    with OutboxReader(sis_url, listen=False) as reader:
        assert [r.seq for r in reader.read_after(3)] == [4, 5, 6]
        assert [r.seq for r in reader.read_after(5)] == [6]
        assert reader.read_after(6) == [] and reader.horizon == 6
        assert reader.read_after(99) == [] and reader.horizon == 99  # never moves a cursor back


def test_the_limit_cuts_the_read_and_the_horizon_stops_at_the_last_row_returned(sis_url):
    _companies(sis_url, range(7))
    with OutboxReader(sis_url, listen=False) as reader:
        first = reader.read_after(0, limit=3)
        assert [r.seq for r in first] == [1, 2, 3] and reader.horizon == 3
        second = reader.read_after(reader.horizon, limit=3)
        assert [r.seq for r in second] == [4, 5, 6] and reader.horizon == 6
        third = reader.read_after(reader.horizon, limit=3)
        assert [r.seq for r in third] == [7] and reader.horizon == 7
        exact = reader.read_after(4, limit=3)  # exactly `limit` rows left: the horizon is the last one
        assert [r.seq for r in exact] == [5, 6, 7] and reader.horizon == 7


def test_the_object_filter_and_a_horizon_past_rows_of_other_objects(sis_url):
    _sql(sis_url,
         "INSERT INTO qualification (crebo, name, level) VALUES ('25001', 'Q1', 2)",       # 1
         "INSERT INTO company (sbb_code, name) VALUES ('100000001', 'C1')",                 # 2
         "INSERT INTO qualification (crebo, name, level) VALUES ('25002', 'Q2', 2)",       # 3
         "INSERT INTO qualification (crebo, name, level) VALUES ('25003', 'Q3', 2)")       # 4
    with OutboxReader(sis_url, listen=False) as reader:
        rows = reader.read_after(0, ["company"])
        assert _keys(rows) == ["100000001"] and reader.horizon == 4  # the trailing rows were seen
        assert reader.read_after(0, ["company", "qualification"], limit=2) and reader.horizon == 2
        assert _keys(reader.read_after(0, ["qualification"], limit=2)) == ["25001", "25002"]
        assert reader.horizon == 3
        assert reader.read_after(2, ["nothing"]) == [] and reader.horizon == 4
        assert len(reader.read_after(0, None)) == 4 and len(reader.read_after(0, [])) == 4


def test_one_read_looks_at_most_scan_rows_ahead(sis_url, monkeypatch):
    monkeypatch.setattr(outbox, "SCAN", 3)
    _companies(sis_url, range(5))
    with OutboxReader(sis_url, listen=False) as reader:
        assert [r.seq for r in reader.read_after(0, limit=10)] == [1, 2, 3] and reader.horizon == 3
        assert [r.seq for r in reader.read_after(3, limit=10)] == [4, 5] and reader.horizon == 5


def test_last_gives_the_newest_rows_oldest_first(sis_url):
    _companies(sis_url, range(4))
    _sql(sis_url, "INSERT INTO qualification (crebo, name, level) VALUES ('25001', 'Q1', 2)")
    with OutboxReader(sis_url, listen=False) as reader:
        assert [r.seq for r in reader.last(2)] == [4, 5]
        assert [r.seq for r in reader.last(2, ["company"])] == [3, 4]
        assert [r.seq for r in reader.last(10)] == [1, 2, 3, 4, 5]


def test_sqlite_wait_returns_false_at_the_timeout_and_true_after_a_change(sis_url):
    if not sis_url.startswith("sqlite"):
        pytest.skip("polling is SQLite's way of waiting")
    with OutboxReader(sis_url, poll_interval=0.02) as reader:
        reader.max_seq()
        started = time.monotonic()
        assert reader.wait(0.1) is False
        assert 0.09 <= time.monotonic() - started < 2
        _companies(sis_url, range(1))
        assert reader.wait(5) is True
        assert reader.wait(0.05) is False  # the change was seen: no second wake-up for it


def test_postgresql_wait_wakes_on_notify_and_drains_what_is_queued(sis_url):
    if sis_url.startswith("sqlite"):
        pytest.skip("NOTIFY is PostgreSQL's")
    with OutboxReader(sis_url) as reader:
        assert reader.wait(0.1) is False
        _companies(sis_url, range(3))  # three notifications in one transaction
        assert reader.wait(5) is True
        assert reader.wait(0.1) is False  # the other two were drained with the first


def test_postgresql_wait_after_a_lost_listener_says_read_again_and_reconnects(sis_url):
    if sis_url.startswith("sqlite"):
        pytest.skip("NOTIFY is PostgreSQL's")
    from .conftest import pg_admin

    with OutboxReader(sis_url) as reader:
        pid = reader._listener.info.backend_pid
        with pg_admin() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert reader.wait(2) is True  # a notification may have been missed: the caller re-reads
        assert reader.wait(0.1) is False  # listening again
        _companies(sis_url, range(1))
        assert reader.wait(5) is True


def test_postgresql_holds_back_behind_an_open_transaction_until_it_commits(sis_url):
    if sis_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer: no gap can fill later")
    import psycopg

    conninfo = sis_url.replace("postgresql+psycopg://", "postgresql://")
    slow = psycopg.connect(conninfo)
    try:
        slow.execute("INSERT INTO company (sbb_code, name) VALUES ('100000041', 'slow')")  # seq 1, open
        _companies(sis_url, range(2, 4))                                                  # seq 2, 3
        with OutboxReader(sis_url, listen=False) as reader:
            assert reader.read_after(0) == [] and reader.horizon == 0
            assert reader.read_after(0, ["company"]) == []
            slow.commit()
            assert [r.seq for r in reader.read_after(0)] == [1, 2, 3] and reader.horizon == 3
            # (a rolled-back gap is passed once no older transaction is open anywhere in the
            # cluster: on a shared test server that can take long; tests/sis covers it)
    finally:
        slow.close()


@pytest.mark.xfail(strict=True, reason="outbox.py keeps every gap that later filled in _gaps for the life of "
                   "the reader: one entry per concurrent transaction seen, unbounded in a daemon (reported)")
def test_postgresql_forgets_a_gap_once_it_has_filled(sis_url):
    if sis_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer: no gaps")
    import psycopg

    slow = psycopg.connect(sis_url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        slow.execute("INSERT INTO company (sbb_code, name) VALUES ('100000041', 'slow')")  # seq 1, open
        _companies(sis_url, range(2, 3))
        with OutboxReader(sis_url, listen=False) as reader:
            assert reader.read_after(0) == []
            slow.commit()
            assert [r.seq for r in reader.read_after(0)] == [1, 2]
            assert reader._gaps == {}
    finally:
        slow.close()


def test_changed_at_is_made_utc_whatever_the_driver_returns():
    naive = dt.datetime(2026, 12, 1, 10, 0)
    assert outbox._utc(naive) == dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    amsterdam = dt.datetime(2026, 12, 1, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert outbox._utc(amsterdam) == dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    assert outbox._utc(amsterdam).tzinfo is dt.UTC
