"""runtime/sis/outbox.py on real SQLite and PostgreSQL: what each read returns, in which order,
where the horizon lands, and when the reader holds back behind a transaction still open.

Changes are made with plain SQL by "another client", as the college's SIS would; the outbox
rows come from the store's own triggers.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def examples(n: int) -> int:
    """Fewer random examples inside the mutation run (mutation/run.py sets KOPPEL_MUTATION)."""
    return max(25, n // 8) if os.environ.get("KOPPEL_MUTATION") else n


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


def test_postgresql_forgets_a_gap_once_it_has_filled(sis_url):
    if sis_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer: no gaps")
    import psycopg

    slow = psycopg.connect(sis_url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        slow.execute("INSERT INTO company (sbb_code, name) VALUES ('100000041', 'slow')")  # seq 1, open
        _companies(sis_url, range(2, 3))
        with OutboxReader(sis_url, listen=False) as reader:
            assert reader.read_after(0) == [] and len(reader._gaps) == 1
            slow.commit()
            assert [r.seq for r in reader.read_after(0)] == [1, 2]
            assert len(reader._gaps) == 0
    finally:
        slow.close()


# --- concurrent writers on PostgreSQL: a model of its snapshots, then the real server -----------
#
# A writer's transaction gets its id at its first write and its seqs as it writes; its rows become
# visible when it commits, never when it rolls back. A snapshot is PostgreSQL's (GetSnapshotData
# in procarray.c): its xmax is one past the newest *completed* transaction id, and its xmin the
# oldest id still open *below that xmax* (anywhere in the cluster: a "foreign" transaction in
# another database holds it too), else xmax. A transaction that began after the last one ended
# has an id at or above xmax and holds nothing back: the model once took xmax for "the first id
# not handed out yet", and the reader built on that reading lost such a writer's change.
# ``pg_current_xact_id()`` hands out the next id (a transaction of the reader's own, ended at once).

class Cluster:
    def __init__(self) -> None:
        self.next_xid = 700
        self.latest_completed = 699
        self.next_seq = 1
        self.open: dict[str, tuple[int, list[int]]] = {}  # writer → (xid, its seqs)
        self.visible: list[int] = []
        self.committed: list[int] = []

    def write(self, writer: str) -> None:
        if writer not in self.open:
            self.open[writer] = (self.next_xid, [])
            self.next_xid += 1
        self.open[writer][1].append(self.next_seq)
        self.next_seq += 1

    def begin_foreign(self, name: str) -> None:
        if name not in self.open:
            self.open[name] = (self.next_xid, [])
            self.next_xid += 1

    def end(self, writer: str, commit: bool) -> None:
        if writer in self.open:
            xid, seqs = self.open.pop(writer)
            self.latest_completed = max(self.latest_completed, xid)
            if commit:
                self.visible = sorted(self.visible + seqs)
                self.committed += seqs

    def snapshot(self) -> tuple[int, int]:
        xmax = self.latest_completed + 1
        return min((xid for xid, _ in self.open.values() if xid < xmax), default=xmax), xmax

    def current_xact_id(self) -> int:
        """``pg_current_xact_id()`` in a transaction that ends at once."""
        xid, self.next_xid = self.next_xid, self.next_xid + 1
        self.latest_completed = max(self.latest_completed, xid)
        return xid


class _Row:
    def __init__(self, seq: int) -> None:
        self.seq, self.object, self.key, self.op = seq, "company", str(100000000 + seq), "insert"
        self.changed_at = dt.datetime(2026, 12, 1, 10, 0)


class ModelReader(OutboxReader):
    """The real reader and its gap memory, reading the model's outbox and snapshots."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__("sqlite:///:memory:", listen=False)
        self.is_postgresql = True
        self.cluster = cluster
        self.snapshots = 0

    def _scan(self, connection, after):  # noqa: ANN001, ANN202
        return [s for s in self.cluster.visible if s > after][: outbox.SCAN]

    def _rows(self, connection, after, upto, objects, limit):  # noqa: ANN001, ANN202
        return [_Row(s) for s in self.cluster.visible if after < s <= upto][:limit]

    def _snapshot(self, connection):  # noqa: ANN001, ANN202
        self.snapshots += 1
        return self.cluster.snapshot()

    def _next_xid(self, connection):  # noqa: ANN001, ANN202
        return self.cluster.current_xact_id()


def test_a_writer_that_began_after_the_last_commit_holds_its_gap_model():
    """B began after A's first write and is still open when A commits: PostgreSQL's snapshot is
    then xmin = xmax = B's id (B is not in it). The gap B holds must still be waited for."""
    cluster = Cluster()
    cluster.write("a")  # seq 1, xid 700
    cluster.write("b")  # seq 2, xid 701
    cluster.write("a")  # seq 3
    cluster.end("a", commit=True)
    assert cluster.snapshot() == (701, 701)  # what PostgreSQL answers here (see the real test)
    reader = ModelReader(cluster)
    assert [r.seq for r in reader.read_after(0, None, 500)] == [1] and reader.horizon == 1
    cluster.end("b", commit=True)
    assert [r.seq for r in reader.read_after(1, None, 500)] == [2, 3]


def test_a_writer_that_began_after_the_last_commit_holds_its_gap_on_postgresql(sis_url):
    """The same on the real server: B's change is read, not skipped. (On a server where no other
    transaction ends between A's commit and the read, a reader that notes the snapshot's xmax
    instead of an id above B's passes B's gap for good.)"""
    if sis_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer: no gaps")
    import psycopg

    conninfo = sis_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as admin:
        start = admin.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
    a, b = psycopg.connect(conninfo), psycopg.connect(conninfo)
    try:
        with OutboxReader(sis_url, listen=False) as reader:
            a.execute("INSERT INTO company (sbb_code, name) VALUES ('900000001', 'A')")
            b.execute("INSERT INTO company (sbb_code, name) VALUES ('900000002', 'B')")
            a.execute("INSERT INTO company (sbb_code, name) VALUES ('900000003', 'A')")
            a.commit()
            first = reader.read_after(start, None, 500)
            assert _keys(first) == ["900000001"], _keys(first)
            cursor = max(start, reader.horizon)
            b.commit()
            assert _keys(reader.read_after(cursor, None, 500)) == ["900000002", "900000003"]
    finally:
        a.close()
        b.close()


WRITERS = ["w1", "w2", "w3"]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.sampled_from(WRITERS)),
        st.tuples(st.sampled_from(["commit", "abort"]), st.sampled_from(WRITERS)),
        st.tuples(st.just("foreign"), st.sampled_from(["begin", "end"])),
        st.tuples(st.just("read"), st.sampled_from([1, 2, 500])),
    ),
    max_size=40,
)


def _read(reader: OutboxReader, cursor: int, limit: int, seen: list[int]) -> int:
    rows = reader.read_after(cursor, None, limit)
    assert all(r.seq > cursor for r in rows) and [r.seq for r in rows] == sorted({r.seq for r in rows})
    seen += [r.seq for r in rows]
    return max(cursor, reader.horizon)


def _assert_gap_memory_bounded(reader: OutboxReader, open_transactions: int) -> None:
    """What may still fill is at most one gap per open transaction; a gap that cannot fill any
    more is forgotten once the horizon has passed it (a read cut short by its limit may stop before
    such gaps: they wait there, at most a scan's worth)."""
    may_fill = [seq for seq, noted in reader._gaps._noted.items() if noted != outbox.OVER]
    assert len(may_fill) <= open_transactions
    assert all(seq > reader.horizon for seq in reader._gaps._noted if seq not in may_fill)


@settings(max_examples=examples(400), deadline=None)
@given(steps)
def test_concurrent_writers_each_committed_change_is_read_once_and_gap_memory_stays_bounded(plan):
    cluster = Cluster()
    reader = ModelReader(cluster)
    cursor, seen = 0, []
    for action, arg in plan:
        if action == "write":
            cluster.write(arg)
        elif action in ("commit", "abort"):
            cluster.end(arg, commit=action == "commit")
        elif action == "foreign":
            cluster.begin_foreign("foreign") if arg == "begin" else cluster.end("foreign", commit=False)
        else:
            cursor = _read(reader, cursor, arg, seen)
            # never past a seq a transaction still open holds: it may yet commit
            assert all(cursor < s for _, seqs in cluster.open.values() for s in seqs)
            _assert_gap_memory_bounded(reader, len(cluster.open))
    for writer in list(cluster.open):
        cluster.end(writer, commit=True)
    for _ in range(len(cluster.committed) + 2):
        cursor = _read(reader, cursor, 2, seen)
    assert seen == sorted(cluster.committed)  # each committed change once, in order, none lost
    assert len(reader._gaps) == 0
    reader.close()


def _wait_for_other_clients(conninfo: str) -> None:
    """Until every transaction open now anywhere on the server has ended: a rolled-back gap is
    passed only then, and other developers' tests (a mutant's hung trigger) may hold one a while."""
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as probe:
        def snapshot(part: str) -> int:
            return probe.execute(f"SELECT pg_snapshot_{part}(pg_current_snapshot())::text::bigint").fetchone()[0]

        now, deadline = snapshot("xmax"), time.monotonic() + 60
        while snapshot("xmin") < now:
            if time.monotonic() > deadline:
                pytest.skip("another client's transaction on this server stayed open for a minute")
            time.sleep(0.05)


@settings(max_examples=3 if os.environ.get("KOPPEL_MUTATION") else 12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.sampled_from(WRITERS)),
        st.tuples(st.sampled_from(["commit", "abort"]), st.sampled_from(WRITERS)),
        st.tuples(st.just("read"), st.sampled_from([1, 500])),
    ),
    max_size=14,
))
def test_postgresql_concurrent_writers_each_committed_change_is_read_once(sis_url, plan):
    """The same on the real server: three writers' transactions interleaved, committed, rolled back."""
    if sis_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer: no gaps")
    import psycopg

    conninfo = sis_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as admin:
        start = admin.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
    writers = {w: psycopg.connect(conninfo) for w in WRITERS}
    written: dict[str, list[str]] = {w: [] for w in WRITERS}
    committed: list[str] = []
    count = 0
    try:
        with OutboxReader(sis_url, listen=False) as reader:
            cursor, keys = start, []
            for action, arg in plan:
                if action == "write":
                    count += 1
                    key = f"{uuid.uuid4().int % 10**9:09d}"
                    writers[arg].execute("INSERT INTO company (sbb_code, name) VALUES (%s, 'C')", (key,))
                    written[arg].append(key)
                elif action in ("commit", "abort"):
                    (writers[arg].commit if action == "commit" else writers[arg].rollback)()
                    committed += written[arg] if action == "commit" else []
                    written[arg] = []
                else:
                    rows = reader.read_after(cursor, None, arg)
                    keys += [r.key for r in rows]
                    cursor = max(cursor, reader.horizon)
                    # one more than the open writers: a rolled-back gap may wait for a
                    # transaction of another client on this shared server
                    _assert_gap_memory_bounded(reader, sum(1 for w in WRITERS if written[w]) + 1)
            for w in WRITERS:
                writers[w].commit()
                committed += written[w]
            # A gap first seen now waits for every transaction open now on the server: read,
            # let those end, read on; two reads per row and gap are plenty.
            for _ in range(2 * count + 2):
                rows = reader.read_after(cursor, None, 2)
                keys += [r.key for r in rows]
                cursor = max(cursor, reader.horizon)
                if not rows:
                    _wait_for_other_clients(conninfo)
            assert sorted(keys) == sorted(committed) and len(keys) == len(set(keys))
            assert len(reader._gaps) == 0
    finally:
        for connection in writers.values():
            connection.close()


def test_changed_at_is_made_utc_whatever_the_driver_returns():
    naive = dt.datetime(2026, 12, 1, 10, 0)
    assert outbox._utc(naive) == dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    amsterdam = dt.datetime(2026, 12, 1, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert outbox._utc(amsterdam) == dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    assert outbox._utc(amsterdam).tzinfo is dt.UTC
