"""The delivery ledger written in bulk (COPY into a temporary table + one upsert on PostgreSQL,
one executemany into a temporary table + one upsert on SQLite) leaves exactly the rows the row-by-row statements left: the same
deliveries (attempts added up, a reference or delivery time never lost to a later failure), the
same lineage, whatever the batches hold, repeated keys within a batch included."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from runtime.engine.state import models as m
from runtime.engine.state.store import BatchResult, DeliveryRow, StateStore

_row = st.builds(
    DeliveryRow,
    target=st.sampled_from(["crm", "dms"]),
    idempotency_key=st.sampled_from([f"k{i}:abc" for i in range(6)]),
    payload_hash=st.sampled_from(["h1", "h2"]),
    status=st.sampled_from(["delivered", "failed", "dead"]),
    attempts=st.integers(1, 3),
    source_key=st.sampled_from(["s1", "s2"]),
    last_error=st.sampled_from([None, "timeout"]),
    reference=st.sampled_from([None, "ref-1", "ref-2"]),
    mapping_version=st.sampled_from([None, "v1"]),
)
_batches = st.lists(st.lists(_row, min_size=1, max_size=8), min_size=1, max_size=4)


def _rows(store: StateStore) -> tuple[list, list]:
    d, li = m.deliveries.c, m.lineage.c
    with store.engine.connect() as c:
        deliveries = c.execute(select(d.target, d.idempotency_key, d.payload_hash, d.status, d.attempts, d.last_error,
                                      d.reference, d.run_id, d.source_key, d.mapping_version,
                                      d.delivered_at.is_(None)).order_by(d.target, d.idempotency_key)).all()
        lineage = c.execute(select(li.target, li.idempotency_key, li.run_id, li.source_key, li.payload_hash,
                                   li.status, li.reference).order_by(li.target, li.idempotency_key, li.id)).all()
    return [tuple(r) for r in deliveries], [tuple(r) for r in lineage]


def _write(store: StateStore, batches: list[list[DeliveryRow]]) -> None:
    run = store.start_run(7, "manual")
    for rows in batches:
        store.commit_batch(7, run, BatchResult(deliveries=list(rows), counts={"delivered": len(rows)}))


def _clear(store: StateStore) -> None:
    with store.engine.begin() as c:
        c.execute(m.lineage.delete())
        c.execute(m.deliveries.delete())


@pytest.fixture
def pg_stores(pg_url):
    bulk, plain = StateStore(pg_url), StateStore(pg_url)
    plain._copy_ledger = lambda *a: False  # the row-by-row statements, for comparison
    yield bulk, plain
    bulk.close()
    plain.close()


@pytest.fixture
def sqlite_stores(tmp_path):
    bulk, plain = StateStore(f"sqlite:///{tmp_path / 'bulk.db'}"), StateStore(f"sqlite:///{tmp_path / 'plain.db'}")
    plain._stage_ledger = lambda *a: False  # the two executemany of the row-by-row statements
    yield bulk, plain
    bulk.close()
    plain.close()


@pytest.fixture(params=[("sqlite_stores", "_stage_ledger"), ("pg_stores", "_copy_ledger")], ids=["sqlite", "postgresql"])
def stores(request):
    """(bulk, plain, the name of the bulk path that plain has turned off), on either database."""
    fixture, path = request.param
    bulk, plain = request.getfixturevalue(fixture)
    return bulk, plain, path


def test_the_bulk_path_is_taken(stores):
    bulk, _, path = stores
    taken = []
    original = getattr(bulk, path)
    setattr(bulk, path, lambda *a: taken.append(original(*a)) or taken[-1])
    _write(bulk, [[DeliveryRow("crm", f"k{i}:h", "h", "delivered", 1, f"s{i}") for i in range(50)]])
    assert taken == [True]
    assert len(_rows(bulk)[0]) == 50 and len(_rows(bulk)[1]) == 50


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_batches)
def test_the_bulk_path_leaves_the_rows_executemany_leaves(stores, batches):
    bulk, plain, _ = stores  # on PostgreSQL both stores share one database: each run on a clear one
    _clear(bulk)
    _clear(plain)
    _write(plain, batches)
    expected = _rows(plain)
    _clear(plain)
    _clear(bulk)
    _write(bulk, batches)
    got = _rows(bulk)
    # run ids differ between the two runs: compare everything else
    assert [r[:7] + r[8:] for r in got[0]] == [r[:7] + r[8:] for r in expected[0]]
    assert [r[:2] + r[3:] for r in got[1]] == [r[:2] + r[3:] for r in expected[1]]


def test_a_step_rolled_back_on_sqlite_leaves_nothing_staged_for_the_next(tmp_path, monkeypatch):
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    run = store.start_run(7, "manual")
    rows = [DeliveryRow("crm", f"k{i}:a", "h", "delivered", 1, f"s{i}") for i in range(3)]
    failing = BatchResult(deliveries=rows, counts={"delivered": 3})
    monkeypatch.setattr(store, "_insert_dead_letter", lambda *a: (_ for _ in ()).throw(RuntimeError("no")))
    from runtime.engine.state.store import DeadLetterRow

    failing.dead.append(DeadLetterRow("delivery", {"key": "s9"}, "refused", "record"))
    with pytest.raises(RuntimeError):
        store.commit_batch(7, run, failing)
    assert _rows(store) == ([], [])
    monkeypatch.undo()
    later = [DeliveryRow("crm", "k9:a", "h", "delivered", 1, "s9"), DeliveryRow("crm", "k8:a", "h", "failed", 1, "s8")]
    store.commit_batch(7, run, BatchResult(deliveries=later, counts={"delivered": 1}))
    assert [r[1] for r in _rows(store)[0]] == ["k8:a", "k9:a"]  # none of the rolled-back step's rows
    assert len(store.db._idle) == 1  # the same connection both times
    store.close()


def test_sqlite_ledger_keeps_attempts_reference_and_delivery_time(tmp_path):
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    _write(store, [
        [DeliveryRow("crm", "k1:a", "h1", "delivered", 1, "s1", reference="ref-1"),
         DeliveryRow("crm", "k2:a", "h1", "failed", 2, "s2", last_error="timeout")],
        [DeliveryRow("crm", "k1:a", "h2", "failed", 3, "s1", last_error="503"),
         DeliveryRow("crm", "k2:a", "h1", "delivered", 1, "s2", reference="ref-2")],
    ])
    deliveries, lineage = _rows(store)
    run = deliveries[0][7]
    assert deliveries == [
        ("crm", "k1:a", "h2", "failed", 4, "503", "ref-1", run, "s1", None, False),
        ("crm", "k2:a", "h1", "delivered", 3, None, "ref-2", run, "s2", None, False),
    ]
    assert [(r[1], r[5]) for r in lineage] == [("k1:a", "delivered"), ("k1:a", "failed"),
                                               ("k2:a", "failed"), ("k2:a", "delivered")]
    store.close()


def test_a_timestamp_survives_the_copy(pg_stores):
    bulk, _ = pg_stores
    _clear(bulk)
    before = dt.datetime.now(dt.timezone.utc)
    _write(bulk, [[DeliveryRow("crm", "k1:a", "h", "delivered", 1, "s1"), DeliveryRow("crm", "k2:a", "h", "dead", 1, "s2")]])
    with bulk.engine.connect() as c:
        rows = c.execute(select(m.deliveries.c.idempotency_key, m.deliveries.c.delivered_at)
                         .order_by(m.deliveries.c.idempotency_key)).all()
    assert rows[0][1] is not None and abs((rows[0][1] - before).total_seconds()) < 60
    assert rows[1][1] is None


def test_a_step_rolled_back_leaves_the_next_step_its_copy_table(pg_url, monkeypatch):
    # one pooled connection: the failed step made the session's temporary table and took it
    # along when it rolled back; the next step on that connection still records its rows
    store = StateStore(pg_url)
    store.db.close()  # one pooled connection from here on
    run = store.start_run(7, "manual")
    rows = [DeliveryRow("crm", f"k{i}:a", "h", "delivered", 1, f"s{i}") for i in range(3)]
    failing = BatchResult(deliveries=rows, counts={"delivered": 3})
    insert = store._insert_dead_letter

    def broken(*args):
        raise RuntimeError("the dead letter could not be written")

    monkeypatch.setattr(store, "_insert_dead_letter", broken)
    from runtime.engine.state.store import DeadLetterRow

    failing.dead.append(DeadLetterRow("delivery", {"key": "s9"}, "refused", "record"))
    with pytest.raises(RuntimeError):
        store.commit_batch(7, run, failing)
    assert _rows(store) == ([], [])
    monkeypatch.setattr(store, "_insert_dead_letter", insert)
    store.commit_batch(7, run, BatchResult(deliveries=rows, counts={"delivered": 3}))
    assert [r[1] for r in _rows(store)[0]] == ["k0:a", "k1:a", "k2:a"]
    assert len(store.db._idle) == 1  # the same connection both times
    store.close()


def _lookup_case(store: StateStore) -> None:
    _write(store, [[DeliveryRow("crm", f"k{i}:a", f"h{i}", "delivered" if i % 3 else "failed", 1, f"s{i}")
                    for i in range(1200)],
                   [DeliveryRow("dms", "k5:a", "other", "delivered", 1, "s5")]])
    wanted = [f"k{i}:a" for i in range(0, 1500, 7)] + ["k5:a", "k5:a", "absent"]
    found = store.ledger(7, "crm", wanted)
    assert found == {f"k{i}:a": (f"h{i}", "delivered" if i % 3 else "failed") for i in range(0, 1200, 7)} | {
        "k5:a": ("h5", "delivered")}
    assert store.ledger(7, "dms", ["k5:a", "k6:a"]) == {"k5:a": ("other", "delivered")}
    assert store.ledger(8, "crm", ["k5:a"]) == {}


def test_ledger_lookup_per_batch_on_sqlite(tmp_path):
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    _lookup_case(store)  # more keys than one IN of 900, repeats, other targets and interfaces
    store.close()


def test_ledger_lookup_per_batch_on_postgresql(pg_stores):
    bulk, _ = pg_stores
    _clear(bulk)
    _lookup_case(bulk)
