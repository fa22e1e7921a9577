"""Retention: with periods of seconds, the purge removes exactly what is past its time, leaves
unread inbox and outbox rows, and deliveries go on while it runs."""

from __future__ import annotations

import datetime as dt
import threading
from types import SimpleNamespace

import engine_fakes as fakes
from sqlalchemy import create_engine, func, insert, select, update

from runtime.engine import Engine
from runtime.engine.state import models as m
from runtime.engine.state.common import utcnow
from runtime.engine.state.retention import purge, retention_of
from runtime.models.catalog import Catalog
from runtime.plugin import Record

RETENTION = {"delivered": "60s", "lineage": "120s", "dead_open": "300s", "dead_closed": "60s", "inbox": "60s"}


def _iface(**retention):
    return {"id": 7, "source": {"type": "memory", "name": "src"}, "targets": [{"type": "memtarget", "name": "tgt"}],
            "delivery": {"batch_size": 50, "retention": {**RETENTION, **retention},
                         "retries": {"max_attempts": 1, "initial_delay": 0.001, "max_delay": 0.001}}}


def _engine(tmp_path, url, **retention):
    reg = fakes.registry()
    project = fakes.make_project(tmp_path, reg, [_iface(**retention)])
    project.catalog = Catalog.model_validate({"college": "t", "source": "t", "interfaces": [], "systems": {},
                                              "state": {"retention": {"outbox": "60s"}}})
    return Engine(project, reg, "sandbox", state_url=url)


def _age(store, table, ids, column, seconds):
    with store.engine.begin() as c:
        c.execute(update(table).where(table.c.id.in_(ids)).values({column: utcnow() - dt.timedelta(seconds=seconds)}))


def _ids(store, table, *where):
    with store.engine.connect() as c:
        return sorted(r[0] for r in c.execute(select(table.c.id).where(*where)))


def test_an_interface_retention_overrides_the_catalog_field_by_field(tmp_path):
    engine = _engine(tmp_path, f"sqlite:///{tmp_path / 's.db'}", lineage=None)
    keep = retention_of(engine.project, engine.project.interfaces[7])
    assert (keep.delivered, keep.lineage, keep.dead_closed, keep.outbox) == (60, None, 60, 60)
    assert keep.inbox == 60 and keep.dead_open == 300
    engine.close()


def test_the_purge_removes_exactly_what_is_past_its_time(tmp_path, state_url):
    fakes.SOURCES["src"] = fakes.records(10)
    fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s1", "s3", "s5", "s7"})
    engine = _engine(tmp_path, state_url)
    store = engine.store
    try:
        engine.run_interface(7)
        delivered = _ids(store, m.deliveries, m.deliveries.c.status == "delivered")
        dead_rows = _ids(store, m.deliveries, m.deliveries.c.status == "dead")
        lineage = _ids(store, m.lineage)
        letters = _ids(store, m.dead_letters)
        assert (len(delivered), len(dead_rows), len(lineage), len(letters)) == (6, 4, 10, 4)
        _age(store, m.deliveries, delivered[:3] + dead_rows, "updated_at", 90)  # dead ledger rows stay
        _age(store, m.lineage, lineage[:7], "at", 130)
        _age(store, m.lineage, lineage[7:8], "at", 110)  # not yet past 120 s
        store.resolve_dead_letter(letters[0], "replayed", "ok")
        store.resolve_dead_letter(letters[1], "discarded", "no")
        _age(store, m.dead_letters, letters[:1], "resolved_at", 70)  # closed 70 s ago: past 60 s
        _age(store, m.dead_letters, letters[2:3], "last_attempt_at", 400)  # open, past 300 s
        _age(store, m.dead_letters, letters[3:4], "last_attempt_at", 200)  # open, not yet
        for i in range(6):
            store.inbox_add(7, f"w{i}", {"n": i})
        inbox = _ids(store, m.inbox)
        _age(store, m.inbox, inbox, "received_at", 120)
        store.set_cursor(7, "webhook", str(inbox[2]))  # three read, three not yet

        expected = {"deliveries": 3, "lineage": 7, "dead letters (open)": 1, "dead letters (closed)": 1,
                    "step progress": 0, "inbox": 3}
        assert purge(store, engine.project, dry_run=True).removed == expected
        assert len(_ids(store, m.lineage)) == 10  # a dry run removes nothing
        assert purge(store, engine.project, batch=2).removed == expected

        assert _ids(store, m.deliveries) == sorted(delivered[3:] + dead_rows)
        assert _ids(store, m.lineage) == lineage[7:]
        assert _ids(store, m.dead_letters) == [letters[1], letters[3]]
        assert _ids(store, m.inbox) == inbox[3:]
        assert purge(store, engine.project).removed == dict.fromkeys(expected, 0)
    finally:
        engine.close()


def test_step_progress_outlives_both_the_ledger_row_and_an_open_dead_letter(tmp_path, state_url):
    """A Signhost delivery's progress (transaction id) is purged only once past ``delivered`` (60 s)
    and ``dead_open`` (300 s): before that a replay of its dead letter must still find it."""
    step_progress = m.step_progress
    engine = _engine(tmp_path, state_url)
    store = engine.store
    rows = {"old": (7, 400), "past-ledger-only": (7, 200), "fresh": (7, 1), "other-interface": (8, 400)}
    with store.engine.begin() as c:
        c.execute(insert(step_progress), [
            {"interface_id": iid, "system": "signhost", "idempotency_key": key, "steps_done": 2,
             "saved": {"transaction_id": "t"}, "updated_at": utcnow() - dt.timedelta(seconds=age)}
            for key, (iid, age) in rows.items()])

    def keys():
        with store.engine.connect() as c:
            return sorted(r[0] for r in c.execute(select(step_progress.c.idempotency_key)))

    try:
        assert purge(store, engine.project, dry_run=True).removed["step progress"] == 1
        assert keys() == sorted(rows)
        assert purge(store, engine.project, batch=1).removed["step progress"] == 1
        assert keys() == ["fresh", "other-interface", "past-ledger-only"]  # 8 is no interface of this project
        no_dead_open_period = _engine(tmp_path / "b", state_url, dead_open=None)
        assert purge(store, no_dead_open_period.project).removed.get("step progress", 0) == 0
        no_dead_open_period.close()
    finally:
        engine.close()


def test_the_outbox_is_purged_only_below_every_active_reader(tmp_path, state_url):
    from runtime.sis.models import Outbox

    engine = _engine(tmp_path, state_url)
    sis = create_engine(f"sqlite:///{tmp_path / 'sis.db'}")
    Outbox.__table__.create(sis)
    old, new = utcnow() - dt.timedelta(seconds=120), utcnow()
    with sis.begin() as c:
        c.execute(insert(Outbox.__table__), [{"object": "student", "key": f"s{i}", "op": "update",
                                              "changed_at": old if i <= 8 else new} for i in range(1, 11)])
    readers = {8: SimpleNamespace(status="active", source=SimpleNamespace(type="sis", mode="outbox"),
                                  delivery=SimpleNamespace(retention=None)),
               9: SimpleNamespace(status="active", source=SimpleNamespace(type="sis", mode="outbox"),
                                  delivery=SimpleNamespace(retention=None)),
               10: SimpleNamespace(status="planned", source=SimpleNamespace(type="sis", mode="outbox"),
                                   delivery=SimpleNamespace(retention=None))}
    project = SimpleNamespace(interfaces=readers, catalog=engine.project.catalog, root=tmp_path)
    try:
        engine.store.set_cursor(8, "sis", "7")
        report = purge(engine.store, project, sis_engine=sis)
        assert "outbox" not in report.removed
        assert report.notes == ["outbox: kept whole, interface(s) 9 have not read it yet"]
        engine.store.set_cursor(9, "sis", "5")  # the slowest active reader; 10 is planned
        assert purge(engine.store, project, sis_engine=sis, batch=2).removed["outbox"] == 5
        with sis.connect() as c:
            left = [r[0] for r in c.execute(select(Outbox.__table__.c.seq).order_by(Outbox.__table__.c.seq))]
        assert left == [6, 7, 8, 9, 10]  # 6-8 are old but unread by interface 9; 9-10 are new
    finally:
        sis.dispose()
        engine.close()


def test_deliveries_go_on_while_the_purge_runs(tmp_path, state_url):
    fakes.SOURCES["src"] = []
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = _engine(tmp_path, state_url)
    store = engine.store
    at = utcnow() - dt.timedelta(seconds=600)
    with store.engine.begin() as c:
        c.execute(insert(m.lineage), [{"interface_id": 7, "target": "tgt", "idempotency_key": f"old{i}", "status":
                                       "delivered", "at": at} for i in range(3000)])
    rounds, stop = [], threading.Event()

    def deliveries():
        n = 0
        while not stop.is_set():
            fakes.SOURCES["src"].extend(Record(key=f"s{i}", data={"id": f"s{i}"}, object="student")
                                        for i in range(n, n + 20))
            rounds.append(engine.run_interface(7, lease_wait=5).delivered)
            n += 20

    writer = threading.Thread(target=deliveries)
    writer.start()
    try:
        while not rounds:
            stop.wait(0.01)
        before = len(rounds)
        report = purge(store, engine.project, batch=100, pause=0.005)
        during = len(rounds) - before
    finally:
        stop.set()
        writer.join(30)
    assert report.removed["lineage"] == 3000
    assert during >= 1 and set(rounds) == {20}
    with store.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(m.lineage)).scalar() == 20 * len(rounds)
        assert c.execute(select(func.count()).select_from(m.deliveries)).scalar() == 20 * len(rounds)
    engine.close()


def test_the_daemons_purge_runs_under_a_lease_and_removes_what_is_old(tmp_path):
    from runtime.engine.state.retention import PurgeLoop

    engine = _engine(tmp_path, f"sqlite:///{tmp_path / 's.db'}")
    store = engine.store
    at = utcnow() - dt.timedelta(seconds=600)
    with store.engine.begin() as c:
        c.execute(insert(m.lineage), [{"interface_id": 7, "target": "tgt", "idempotency_key": f"k{i}",
                                       "status": "delivered", "at": at} for i in range(5)])
    loop = PurgeLoop(engine, every=3600)
    assert store.acquire_lease("state:purge", "another-daemon", 60)
    assert loop.run_once() is None  # another daemon is purging
    store.release_lease("state:purge", "another-daemon")
    assert loop.run_once().removed["lineage"] == 5
    assert _ids(store, m.lineage) == []
    assert PurgeLoop(engine, every=0).thread.is_alive() is False
    engine.close()


def test_exactly_the_rows_older_than_the_period_go_whatever_the_ages(tmp_path):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    engine = _engine(tmp_path, f"sqlite:///{tmp_path / 'p.db'}")
    store, now = engine.store, utcnow()

    @settings(max_examples=40, deadline=None)
    @given(ages=st.lists(st.integers(0, 300), min_size=1, max_size=25), batch=st.integers(1, 7))
    def check(ages, batch):
        with store.engine.begin() as c:
            c.execute(m.lineage.delete())
            c.execute(insert(m.lineage), [{"interface_id": 7, "target": "tgt", "idempotency_key": f"a{age}",
                                           "status": "delivered", "at": now - dt.timedelta(seconds=age)}
                                          for age in ages])
        removed = purge(store, engine.project, now=now, batch=batch).removed["lineage"]
        with store.engine.connect() as c:
            left = sorted(r[0] for r in c.execute(select(m.lineage.c.idempotency_key)))
        assert removed == sum(age > 120 for age in ages)  # lineage: 120 s; exactly 120 s old is kept
        assert left == sorted(f"a{age}" for age in ages if age <= 120)

    try:
        check()
    finally:
        engine.close()
