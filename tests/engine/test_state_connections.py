"""The state store's own driver connections (runtime/engine/state/connections.py): what a run
writes through sqlite3 or psycopg reads back through SQLAlchemy exactly as before, a failed
transaction leaves its connection usable, a connection the server ended is replaced before it
is used, and a URL the drivers cannot take as it is still works through SQLAlchemy's pool."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import threading

import pytest

from runtime.engine.state import StateStore, crypto
from runtime.engine.state.connections import POOL_SIZE, Connections, EngineConnections, PostgreSQL, SQLiteFile, driver_connections
from runtime.engine.state.crypto import new_key_text
from runtime.engine.state.store import BatchResult, DeadLetterRow, DeliveryRow
from tests import pgdb


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    for url in pgdb.state_url(request.param, tmp_path, "stateconn"):
        s = StateStore(url)
        yield s
        s.close()


def test_the_urls_the_drivers_take_and_the_ones_left_to_sqlalchemy(tmp_path):
    assert isinstance(driver_connections(f"sqlite:///{tmp_path}/s.db"), SQLiteFile)
    assert isinstance(driver_connections("postgresql+psycopg://u@h:5432/d"), PostgreSQL)
    assert isinstance(driver_connections("postgresql://u@h/d"), PostgreSQL)  # as runtime/sis/schema.py reads it
    for url in ("sqlite://", "sqlite://host.db", "sqlite:///:memory:", f"sqlite:///{tmp_path}/s.db?mode=ro",
                "postgresql+psycopg://u@h/d?application_name=x", "postgresql+psycopg2://u@h/d", "mysql://u@h/d"):
        assert driver_connections(url) is None, url


def test_what_a_run_writes_reads_back_through_sqlalchemy(store):
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    run_id = store.start_run(7, "manual", run_key="k-1", holder="me")
    assert run_id is not None
    assert store.start_run(7, "manual", run_key="k-1") is None  # the key is taken: another daemon runs it
    store.commit_batch(7, run_id, BatchResult(
        deliveries=[DeliveryRow("t", "key-1", "h1", "delivered", 1, "s1", reference="ref-1")],
        dead=[DeadLetterRow("delivery", {"naam": "Jan", "at": dt.date(2026, 1, 2)}, "refused", "record",
                            target="t", idempotency_key="key-2", source_key="s2", payload=None)],
        counts={"read": 2, "delivered": 1, "dead": 1}), source="src", cursor="c-9", move_cursor=True)
    assert store.finish_run(run_id, "partial", "one dead")

    run = store.run(run_id)
    assert run is not None
    assert (run["read"], run["delivered"], run["dead"], run["outcome"], run["message"]) == (2, 1, 1, "partial", "one dead")
    started = run["started_at"] if run["started_at"].tzinfo else run["started_at"].replace(tzinfo=dt.UTC)
    assert before <= started <= dt.datetime.now(dt.UTC)  # SQLAlchemy parses what the driver wrote
    assert store.cursor(7, "src") == "c-9"
    assert store.ledger(7, "t", ["key-1", "nope"]) == {"key-1": ("h1", "delivered")}
    assert store.delivery(7, "t", "key-1")["reference"] == "ref-1"
    letter = store.dead_letters(interface_id=7)[0]
    assert letter["record"] == {"naam": "Jan", "at": "2026-01-02"} and letter["payload"] is None
    assert (letter["stage"], letter["status"], letter["source_key"]) == ("delivery", "open", "s2")
    assert [r["idempotency_key"] for r in store.lineage_of(7, "key-1")] == ["key-1"]
    assert store.count_dead_letters() == {7: 1}


def test_a_sealed_dead_letter_is_stored_sealed_and_opened(store):
    crypto.configure(crypto.Keyring(((("k1", crypto.decode_key("k1", new_key_text()))),)))
    try:
        run_id = store.start_run(3, "manual")
        store.commit_batch(3, run_id, BatchResult(dead=[DeadLetterRow("mapping", {"bsn": "999990019"}, "bad", "record")]))
        with store.engine.connect() as c:  # at rest: not the record
            raw = c.exec_driver_sql("SELECT record FROM koppel_dead_letters").scalar()
        if store.dialect == "sqlite":  # the JSON text as SQLAlchemy's JSON type writes it: a JSON string
            raw = json.loads(raw)
        assert "999990019" not in raw and crypto.is_sealed(raw)
        assert store.dead_letters(interface_id=3)[0]["record"] == {"bsn": "999990019"}
    finally:
        crypto.configure(None)


def test_leases_through_the_driver(store):
    assert store.acquire_lease("interface:1", "a", ttl=30)
    assert not store.acquire_lease("interface:1", "b", ttl=30)  # held and alive
    assert store.acquire_lease("interface:1", "a", ttl=30)  # ours already
    assert store.renew_lease("interface:1", "a", ttl=-1)  # expired now
    assert store.leases("interface:")["interface:1"]["alive"] is False
    assert store.acquire_lease("interface:1", "b", ttl=30)  # taken over
    assert not store.renew_lease("interface:1", "a", ttl=30)
    store.release_lease("interface:1", "a")  # not ours any more: nothing happens
    assert store.leases("interface:")["interface:1"]["holder"] == "b"
    store.release_lease("interface:1", "b")
    assert store.leases("interface:") == {}


def test_a_failed_transaction_leaves_its_connection_usable(store):
    run_id = store.start_run(1, "manual", run_key="once")
    for _ in range(3):  # PostgreSQL aborts the transaction: it must be rolled back before the next use
        assert store.start_run(1, "manual", run_key="once") is None
    with pytest.raises(ValueError, match="no such count"):
        store.add_counts(run_id, {"nonsense": 1})
    store.add_counts(run_id, {"read": 5})
    assert store.run(run_id)["read"] == 5


def test_a_connection_the_server_ended_is_replaced_before_it_is_used(tmp_path):
    """pool_pre_ping's promise, kept: after a PostgreSQL restart (here: the server ends the
    store's connections) the next statement runs on a new connection, not into an error."""
    for url in pgdb.fresh("stateconn"):
        store = StateStore(url)
        try:
            run_id = store.start_run(1, "manual")
            assert store.db._idle, "a connection is kept for the next use"
            with pgdb.admin() as admin:  # only the connections to this test's own database
                ended = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                      "WHERE datname = %s", (url.rsplit("/", 1)[1],)).fetchone()
            assert ended[0] >= 1
            store.add_counts(run_id, {"read": 1})
            assert store.cursor(1, "x") is None
            assert store.run(run_id)["read"] == 1
        finally:
            store.close()


def test_a_url_the_drivers_cannot_take_runs_through_sqlalchemys_pool():
    store = StateStore("sqlite://")  # in memory: one database per connection of SQLAlchemy's pool
    try:
        assert isinstance(store.db, EngineConnections)
        run_id = store.start_run(2, "manual", holder="me")
        assert store.acquire_lease("interface:2", "me", ttl=30)
        store.commit_batch(2, run_id, BatchResult(deliveries=[DeliveryRow("t", "k", "h", "delivered", 1, "s")],
                                                  counts={"delivered": 1}),
                           source="s", cursor="7", move_cursor=True, fence=("interface:2", "me"))
        assert store.cursor(2, "s") == "7" and store.ledger(2, "t", ["k"]) == {"k": ("h", "delivered")}
        assert store.finish_run(run_id, "ok", fence=("interface:2", "me"))
        assert store.run(run_id)["outcome"] == "ok"
    finally:
        store.close()


def test_a_state_database_that_cannot_be_reached_is_said_plainly(tmp_path):
    """Not "unexpected OperationalError (this is a bug in Koppel)": the state database is down or
    its URL points nowhere, which an operator fixes."""
    import socket

    from runtime.errors import TransientError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for url in (f"postgresql+psycopg://postgres@127.0.0.1:{port}/x", f"sqlite:///{tmp_path / 'no' / 'such' / 'x.db'}"):
        with pytest.raises(TransientError) as info:
            StateStore(url)
        assert str(info.value) == "the state database (KOPPEL_STATE_URL) unavailable: OperationalError", url


def _closed(connection) -> bool:
    if isinstance(connection, sqlite3.Connection):
        try:
            connection.execute("SELECT 1")
        except sqlite3.ProgrammingError:  # "Cannot operate on a closed database"
            return True
        return False
    return bool(connection.closed)


def test_a_connection_is_used_again_and_the_ones_past_the_pool_are_closed(store):
    store.cursor(1, "x")
    first = list(store.db._idle)
    store.cursor(1, "x")
    store.set_cursor(1, "x", "7")
    assert store.db._idle == first and len(first) == 1  # the same connection for every statement
    with contextlib.ExitStack() as stack:  # POOL_SIZE + 2 at once: each transaction its own
        held = [stack.enter_context(store.db.read()) for _ in range(POOL_SIZE + 2)]
        assert len({id(t.cursor) for t in held}) == POOL_SIZE + 2 and store.db._idle == []
        connections = [t.cursor.connection for t in held]
    assert len(store.db._idle) == POOL_SIZE  # kept: as many as the pool holds; the rest closed
    assert [_closed(c) for c in connections].count(True) == 2
    idle = list(store.db._idle)
    store.close()
    assert store.db._idle == [] and all(_closed(c) for c in idle)


def test_a_failed_transaction_gives_its_connection_back(store):
    store.start_run(1, "manual", run_key="once")
    before = list(store.db._idle)
    assert store.start_run(1, "manual", run_key="once") is None  # refused by the unique key
    assert store.db._idle == before  # rolled back and kept, not closed and made anew
    assert not _closed(before[0])


def test_a_pooled_sqlite_connection_serves_another_thread(tmp_path):
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        store.set_cursor(1, "x", "1")  # made in this thread
        made = list(store.db._idle)
        done = []
        worker = threading.Thread(target=lambda: done.append(store.cursor(1, "x")))
        worker.start()
        worker.join()
        assert done == ["1"] and store.db._idle == made
    finally:
        store.close()


def test_a_duplicate_run_key_is_refused_through_sqlalchemys_pool_too():
    store = StateStore("sqlite://")
    try:
        assert store.start_run(2, "manual", run_key="k") is not None
        assert store.start_run(2, "manual", run_key="k") is None
    finally:
        store.close()


def test_the_other_spellings_of_the_two_drivers(tmp_path):
    assert isinstance(driver_connections("postgres://u@h/d"), PostgreSQL)
    assert driver_connections("postgres://u@h/d").conninfo == "postgresql://u@h/d"
    sqlite = driver_connections(f"sqlite+pysqlite:///{tmp_path}/s.db")
    assert isinstance(sqlite, SQLiteFile) and sqlite.path == f"{tmp_path}/s.db"
    assert driver_connections("sqlite:///relative/s.db").path == "relative/s.db"  # as SQLAlchemy reads it


class _Fake:
    """A DB-API connection that records being closed, and fails as told."""

    def __init__(self, rollback_fails: bool = False) -> None:
        self.closed, self.rollback_fails = False, rollback_fails

    def cursor(self):
        return _FakeCursor()

    def close(self):
        self.closed = True

    def commit(self):
        pass

    def rollback(self):
        if self.rollback_fails:
            raise OSError("gone")


class _FakeCursor:
    def close(self):
        pass


class _FakePool(Connections):
    dialect = "sqlite"

    def __init__(self, made, usable=True, broken=False):
        super().__init__()
        self.made, self.usable, self.broken = made, usable, broken

    def _connect(self):
        return self.made.pop(0)

    def _usable(self, connection):
        return self.usable

    def _broken(self, connection):
        return self.broken


def test_a_connection_the_pool_lets_go_is_closed():
    gone = _Fake(rollback_fails=True)  # its rollback fails: the connection went with the error
    pool = _FakePool([gone])
    with pytest.raises(ValueError), pool.begin():
        raise ValueError("the statement failed")
    assert gone.closed and pool._idle == []
    broken = _Fake()  # rolled back, but the driver says the connection is broken
    pool = _FakePool([broken], broken=True)
    with pytest.raises(ValueError), pool.begin():
        raise ValueError("the connection broke")
    assert broken.closed and pool._idle == []
    stale, fresh = _Fake(), _Fake()  # an idle one found unusable is closed, a new one made
    pool = _FakePool([fresh], usable=False)
    pool._idle.append(stale)
    with pool.read():
        pass
    assert stale.closed and not fresh.closed and pool._idle == [fresh]
