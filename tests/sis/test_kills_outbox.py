"""What a subscriber of runtime/sis/outbox.py relies on beyond the reader's own boundary tests:
the reader's gap memory against a model of PostgreSQL's snapshots (tests/boundaries), with
more than one cursor on one reader (the realtime loop and its status check share one), the
documented default limit, how SQLite's wait polls, and what closing does."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa

from runtime.sis import outbox
from runtime.sis.outbox import OutboxReader
from tests.fakeclock import patch_for_this_thread

from boundaries.test_outbox_reader import Cluster, ModelReader  # pytest puts tests/ on sys.path


def _seqs(reader: OutboxReader, after: int, limit: int = 500) -> list[int]:
    return [r.seq for r in reader.read_after(after, None, limit)]


# --- gaps, on the model --------------------------------------------------------------------


def test_a_filled_gap_is_forgotten_at_once_even_while_an_older_transaction_stays_open():
    cluster = Cluster()
    cluster.begin_foreign("old")  # a long transaction elsewhere on the server
    cluster.write("w1")  # seq 1
    cluster.write("w2")  # seq 2
    cluster.end("w2", commit=True)
    reader = ModelReader(cluster)
    assert _seqs(reader, 0) == [] and len(reader._gaps) == 1
    cluster.end("w1", commit=True)
    assert _seqs(reader, 0) == [1, 2]
    assert len(reader._gaps) == 0


def test_a_rolled_back_gap_first_seen_when_nothing_is_open_is_passed_at_once():
    cluster = Cluster()
    cluster.write("w1")
    cluster.end("w1", commit=False)  # seq 1 gone
    cluster.write("w2")
    cluster.end("w2", commit=True)  # seq 2
    reader = ModelReader(cluster)
    assert _seqs(reader, 0) == [2] and reader.horizon == 2
    assert len(reader._gaps) == 0


def test_a_gap_is_passed_once_the_transactions_open_at_first_sight_end_whatever_began_since():
    cluster = Cluster()
    cluster.write("w1")  # seq 1, open
    cluster.write("w2")
    cluster.end("w2", commit=True)  # seq 2
    reader = ModelReader(cluster)
    assert _seqs(reader, 0) == []
    cluster.end("w1", commit=False)
    cluster.begin_foreign("later")  # began after the gap was first seen: cannot hold seq 1
    assert _seqs(reader, 0) == [2]
    cluster.write("w3")  # seq 3, open
    cluster.write("w2")
    cluster.end("w2", commit=True)  # seq 4
    assert _seqs(reader, 2) == []  # w3 was open when seq 3 was first missed: wait for it
    cluster.end("w3", commit=True)
    assert _seqs(reader, 2) == [3, 4]


def test_a_status_check_reading_ahead_does_not_make_the_cursor_behind_wait_anew():
    """The realtime loop reads after max(seq) while its status check reads after the stored
    cursor, on one reader: the check's gap keeps the xmax it was first seen with."""
    cluster = Cluster()
    cluster.write("w1")  # seq 1, open
    cluster.write("w2")
    cluster.end("w2", commit=True)  # seq 2
    reader = ModelReader(cluster)
    assert _seqs(reader, 0) == []  # the cursor behind waits for w1
    assert _seqs(reader, 2) == [] and reader.horizon == 2  # the loop, ahead of it
    assert len(reader._gaps) == 1  # w1 may still commit into it
    cluster.write("w3")  # a newer transaction, open
    cluster.end("w1", commit=False)
    assert _seqs(reader, 0) == [2]  # not held by w3: it cannot own seq 1


def test_a_gap_passed_by_another_cursor_is_forgotten_once_its_transactions_are_over():
    cluster = Cluster()
    cluster.write("w1")
    cluster.write("w2")
    cluster.end("w2", commit=True)
    reader = ModelReader(cluster)
    assert _seqs(reader, 0) == []
    cluster.end("w1", commit=False)
    cluster.begin_foreign("later")  # newer than the gap: does not keep it alive
    assert _seqs(reader, 2) == []
    assert len(reader._gaps) == 0


def test_a_cursor_resting_on_a_rolled_back_seq_forgets_that_gap():
    cluster = Cluster()
    for writer, commit in (("a", True), ("b", True), ("c", False), ("d", True)):
        cluster.write(writer)
        cluster.end(writer, commit)  # seqs 1, 2, 3 (rolled back), 4
    reader = ModelReader(cluster)
    assert _seqs(reader, 0, limit=1) == [1] and reader.horizon == 1
    assert len(reader._gaps) == 1  # seq 3, over: kept until the horizon passes it
    assert _seqs(reader, 1, limit=1) == [2] and len(reader._gaps) == 1
    assert _seqs(reader, 3) == [4] and reader.horizon == 4
    assert len(reader._gaps) == 0


def test_a_rolled_back_gap_ahead_of_a_cut_read_is_not_waited_for_again():
    cluster = Cluster()
    for writer, commit in (("a", True), ("b", False), ("c", True), ("d", True)):
        cluster.write(writer)
        cluster.end(writer, commit)  # seqs 1, 2 (rolled back), 3, 4
    reader = ModelReader(cluster)
    assert _seqs(reader, 0, limit=1) == [1]
    cluster.begin_foreign("later")  # would hold a gap first seen now
    assert _seqs(reader, 1) == [3, 4]


def test_a_new_rolled_back_gap_behind_an_older_one_is_passed_in_the_same_read():
    """One read meets an older gap (its writer gone now) and a new one left by a rollback on a
    quiet server: the snapshot is taken for the older gap, before the new gap's bound, and its
    xmin equals that bound. Nothing can fill either gap, so the read goes past both at once
    instead of holding the later change back for another read."""
    cluster = Cluster()
    cluster.write("w1")  # seq 1, open
    cluster.write("w2")
    cluster.end("w2", commit=True)  # seq 2
    reader = ModelReader(cluster)
    assert _seqs(reader, 0) == []  # w1 may still commit into seq 1
    cluster.end("w1", commit=False)
    cluster.write("w3")
    cluster.end("w3", commit=False)  # seq 3: rolled back
    cluster.write("w4")
    cluster.end("w4", commit=True)  # seq 4
    assert _seqs(reader, 0) == [2, 4] and reader.horizon == 4
    assert len(reader._gaps) == 0


def test_one_read_asks_for_the_snapshot_at_most_once_and_not_without_a_gap():
    cluster = Cluster()
    for writer, commit in (("a", True), ("b", False), ("c", True), ("d", False), ("e", True)):
        cluster.write(writer)
        cluster.end(writer, commit)
    reader = ModelReader(cluster)
    assert _seqs(reader, 0) == [1, 3, 5] and reader.snapshots == 1
    assert _seqs(reader, 5) == [] and reader.snapshots == 1


# --- the real stores -----------------------------------------------------------------------


def _companies(url: str, count: int) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO company (sbb_code, name) VALUES (:code, 'C')"),
                  [{"code": str(100000000 + i)} for i in range(count)])
    engine.dispose()


def test_a_fresh_reader_has_seen_nothing(store):
    with OutboxReader(store.url, listen=False) as reader:
        assert reader.horizon == 0


def test_a_read_returns_at_most_500_rows_unless_told_otherwise(store):
    _companies(store.url, 501)
    with OutboxReader(store.url, listen=False) as reader:
        rows = reader.read_after(0)
        assert len(rows) == 500 and reader.horizon == 500
        assert [r.seq for r in reader.read_after(reader.horizon)] == [501]


def test_a_reader_resuming_from_its_cursor_is_not_held_by_a_transaction_opened_after_it(store):
    if store.engine_name != "postgresql":
        pytest.skip("SQLite has one writer: nothing is held")
    _companies(store.url, 3)
    slow = store.connect()
    slow.autocommit = False
    try:
        slow.execute("INSERT INTO company (sbb_code, name) VALUES ('100000041', 'slow')")  # seq 4, open
        with OutboxReader(store.url, listen=False) as reader:
            assert [r.seq for r in reader.read_after(1)] == [2, 3] and reader.horizon == 3
    finally:
        slow.close()


def test_sqlite_wait_does_not_wake_for_what_a_read_already_returned(store):
    if store.engine_name != "sqlite":
        pytest.skip("polling is SQLite's way of waiting")
    _companies(store.url, 3)
    with OutboxReader(store.url, poll_interval=0.01) as reader:
        assert len(reader.read_after(0)) == 3
        assert reader.wait(0.05) is False


def test_sqlite_wait_polls_every_poll_interval_until_the_timeout(store, monkeypatch):
    if store.engine_name != "sqlite":
        pytest.skip("polling is SQLite's way of waiting")
    clock = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        clock[0] += max(seconds, 0.001)

    patch_for_this_thread(monkeypatch, outbox.time, "monotonic", lambda: clock[0])
    patch_for_this_thread(monkeypatch, outbox.time, "sleep", sleep)
    with OutboxReader(store.url, poll_interval=0.25) as reader:
        assert reader.wait(0.6) is False
        assert slept == [0.25, 0.25, 0.1]


def test_postgresql_wait_returns_on_the_first_notification(store):
    if store.engine_name != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL's")
    with OutboxReader(store.url) as reader:
        timer = threading.Timer(0.2, lambda: _companies(store.url, 1))
        timer.start()
        started = time.monotonic()
        try:
            assert reader.wait(60) is True
        finally:
            timer.join()
        assert time.monotonic() - started < 30  # one notification, not the whole timeout


def test_closing_twice_is_harmless(store):
    reader = OutboxReader(store.url)
    reader.close()
    reader.close()
    with OutboxReader(store.url) as again:
        again.close()  # and __exit__ closes once more


def test_last_gives_each_row_whole_as_read_after_does(store):
    """What an operator's `koppel sis outbox --tail N` shows: the same rows as a cursor reads."""
    _companies(store.url, 2)
    store.sql("UPDATE company SET name = 'X' WHERE sbb_code = '100000001'")
    with OutboxReader(store.url, listen=False) as reader:
        newest = reader.last(2)
        assert [(r.seq, r.object, r.key, r.op) for r in newest] == [
            (2, "company", "100000001", "insert"), (3, "company", "100000001", "update")]
        assert newest == reader.read_after(1)
        assert all(r.changed_at.utcoffset() == dt.timedelta(0) for r in newest)


def test_postgresql_rows_come_in_seq_order_after_a_purge_freed_the_first_pages(store):
    """After the purge deletes old changes and VACUUM frees their space, new rows are stored in
    the first pages, before older ones: only ORDER BY seq keeps a cursor's reads in order."""
    if store.engine_name != "postgresql":
        pytest.skip("SQLite reads by rowid: always seq order")
    _companies(store.url, 300)
    store.sql("DELETE FROM outbox WHERE seq <= 250")
    store.sql("VACUUM outbox")
    engine = sa.create_engine(store.url)
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO company (sbb_code, name) VALUES (:code, 'N')"),
                  [{"code": str(200000000 + i)} for i in range(30)])
    engine.dispose()
    stored = [r[0] for r in store.sql("SELECT seq FROM outbox WHERE seq > 250")]
    assert stored != sorted(stored)  # the scene: newer rows lie before older ones on disk
    with OutboxReader(store.url, listen=False) as reader:
        assert [r.seq for r in reader.read_after(250, limit=1000)] == list(range(251, 331))
        assert [r.seq for r in reader.read_after(250, limit=5)] == list(range(251, 256))


def test_the_rows_before_an_open_transaction_s_seq_come_at_once():
    cluster = Cluster()
    cluster.write("a")
    cluster.end("a", commit=True)  # seq 1
    cluster.write("slow")  # seq 2, open
    cluster.write("b")
    cluster.end("b", commit=True)  # seq 3
    reader = ModelReader(cluster)
    assert _seqs(reader, 0) == [1] and reader.horizon == 1


def test_a_dead_gap_at_the_horizon_itself_is_forgotten():
    """A cursor can rest on a rolled-back seq (here: a second cursor, just behind a fresh gap):
    the gap it rests on is passed, and forgotten once nothing can fill it."""
    cluster = Cluster()
    cluster.write("w1")  # seq 1
    cluster.write("w2")  # seq 2
    cluster.write("w3")
    cluster.end("w3", commit=True)  # seq 3
    reader = ModelReader(cluster)
    assert _seqs(reader, 0) == []  # gap 1..2, held by w1 and w2
    cluster.end("w1", commit=False)
    cluster.end("w2", commit=False)
    cluster.begin_foreign("later")
    assert _seqs(reader, 1) == [] and reader.horizon == 1  # seq 2 first seen now: wait for "later"
    assert len(reader._gaps) == 1  # only that one; the gap at 1 can no longer fill


def test_sqlite_wait_polls_every_second_unless_told_otherwise(store, monkeypatch):
    if store.engine_name != "sqlite":
        pytest.skip("polling is SQLite's way of waiting")
    clock = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += max(seconds, 0.001)

    patch_for_this_thread(monkeypatch, outbox.time, "monotonic", lambda: clock[0])
    patch_for_this_thread(monkeypatch, outbox.time, "sleep", sleep)
    with OutboxReader(store.url) as reader:
        assert reader.wait(2.5) is False
        assert slept == [1.0, 1.0, 0.5]


def test_postgresql_a_change_right_after_a_wake_up_wakes_the_next_wait(store):
    """Draining what was queued with the first notification must not wait for, and swallow, the
    notification of a change made a moment later: that change would then wake no one."""
    if store.engine_name != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL's")
    with OutboxReader(store.url) as reader:
        _companies(store.url, 1)
        later = threading.Timer(0.3, store.sql, ("INSERT INTO company (sbb_code, name) VALUES ('300000001', 'later')",))
        later.start()  # while the first wait is draining, in a mutant that drains for a second
        try:
            assert reader.wait(30) is True
            assert reader.wait(5) is True  # queued by now: at once, unless it was swallowed
        finally:
            later.join()


def test_the_listener_logs_in_with_the_urls_own_password(monkeypatch):
    """A SIS store behind a password: the LISTEN connection must use it, not SQLAlchemy's '***'."""
    import psycopg

    seen = []

    class Listener:
        def execute(self, sql):
            seen.append(sql)

    monkeypatch.setattr(psycopg, "connect", lambda conninfo, **kw: seen.append(conninfo) or Listener())
    reader = OutboxReader("postgresql+psycopg://koppel:s3cr3t-pw@127.0.0.1:5432/sis")
    try:
        assert seen[0] == "postgresql://koppel:s3cr3t-pw@127.0.0.1:5432/sis" and seen[1].startswith("LISTEN ")
    finally:
        reader._listener = None
        reader.close()
