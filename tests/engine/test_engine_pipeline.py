"""The pipeline's promises, with in-process fake plugins: nothing lost, nothing sent twice
without need, one bad record never stops the others, order per key kept."""

from __future__ import annotations

import engine_fakes as fakes
from runtime.plugin import Record


def iface(**delivery):
    policy = {"batch_size": 50, "retries": {"max_attempts": 6, "initial_delay": 0.001, "max_delay": 0.01}}
    policy.update(delivery)
    return {"id": 1, "source": {"type": "memory", "name": "src"},
            "targets": [{"type": "memtarget", "name": "tgt"}], "delivery": policy}


def test_every_record_delivered_despite_transient_failures(make_engine):
    fakes.SOURCES["src"] = fakes.records(500)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour(transient_fraction=0.3)
    engine = make_engine([iface(retries={"max_attempts": 30, "initial_delay": 0.001, "max_delay": 0.002})])
    summary = engine.run_interface(1)
    assert summary.outcome == "ok"
    assert (summary.read, summary.delivered, summary.dead) == (500, 500, 0)
    assert summary.failed > 0  # the retries are recorded...
    assert {i.source_key for i in target.received} == {f"s{i}" for i in range(500)}
    rows = engine.store.list_runs(1)
    assert rows[0]["failed"] == summary.failed and rows[0]["delivered"] == 500
    # ...and per delivery: some needed more than one attempt
    attempts = [engine.store.delivery(1, "memtarget", f"s{i}")["attempts"] for i in range(500)]
    assert max(attempts) > 1 and min(attempts) == 1


def test_rejected_records_become_dead_letters_and_replay_delivers_them(make_engine):
    from runtime.engine.deadletters import DeadLetters

    fakes.SOURCES["src"] = fakes.records(100)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s3", "s42", "s77"})
    engine = make_engine([iface()])
    summary = engine.run_interface(1)
    assert summary.outcome == "partial"
    assert (summary.delivered, summary.dead) == (97, 3)
    dl = DeadLetters(engine)
    letters = dl.list(interface_id=1)
    assert sorted(d["source_key"] for d in letters) == ["s3", "s42", "s77"]
    assert {d["error_class"] for d in letters} == {"record"}
    assert engine.store.cursor(1, "memory") == "100"  # acknowledged: dead-lettered counts

    target.reject.clear()  # the target now accepts them
    results = dl.replay(interface_id=1)
    assert [r.status for r in results] == ["delivered"] * 3
    assert dl.list(interface_id=1) == []
    assert sorted(i.source_key for i in target.received[-3:]) == ["s3", "s42", "s77"]
    assert engine.store.delivery(1, "memtarget", "s42")["status"] == "delivered"


def test_transient_failures_that_never_end_become_dead_letters(make_engine):
    fakes.SOURCES["src"] = fakes.records(10)
    fakes.TARGETS["tgt"] = fakes.Behaviour(transient_fraction=1.0)
    engine = make_engine([iface(retries={"max_attempts": 3, "initial_delay": 0.001, "max_delay": 0.001})])
    summary = engine.run_interface(1)
    assert (summary.dead, summary.delivered, summary.failed) == (10, 0, 20)
    letters = engine.store.dead_letters(interface_id=1)
    assert {d["error_class"] for d in letters} == {"transient"} and {d["attempts"] for d in letters} == {3}


def test_unchanged_records_are_not_sent_again(make_engine):
    fakes.SOURCES["src"] = fakes.records(20)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    engine.run_interface(1)
    engine.store.set_cursor(1, "memory", None)  # read everything again
    fakes.SOURCES["src"][5].data["name"] = "Changed"
    summary = engine.run_interface(1)
    assert (summary.skipped, summary.delivered) == (19, 1)
    assert len(target.received) == 21


def test_skip_unchanged_can_be_turned_off(make_engine):
    fakes.SOURCES["src"] = fakes.records(20)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface(skip_unchanged=False)])
    engine.run_interface(1)
    engine.store.set_cursor(1, "memory", None)
    assert engine.run_interface(1).delivered == 20
    assert target.duplicates == 20  # sent again with the same idempotency keys


def test_changes_of_one_key_arrive_in_order(make_engine):
    recs = []
    for version in range(5):
        for s in range(10):
            recs.append(Record(key=f"s{s}", data={"id": f"s{s}", "v": version}))
    fakes.SOURCES["src"] = recs
    target = fakes.TARGETS["tgt"] = fakes.Behaviour(transient_fraction=0.4)
    engine = make_engine([iface(retries={"max_attempts": 50, "initial_delay": 0.001, "max_delay": 0.001})])
    assert engine.run_interface(1).delivered == 50
    for s in range(10):
        versions = [i.payload["v"] for i in target.received if i.source_key == f"s{s}"]
        assert versions == sorted(versions) == list(range(5))


def test_idempotency_key_expression_and_lineage(make_engine):
    fakes.SOURCES["src"] = [Record(key="row-1", data={"studentnummer": "123", "x": 1})]
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface(idempotency_key="studentnummer")])
    summary = engine.run_interface(1)
    row = engine.store.delivery(1, "memtarget", "123")
    assert row["source_key"] == "row-1" and row["run_id"] == summary.run_id and row["reference"] == "ref-row-1"
    lineage = engine.store.lineage_of(1, "123")
    assert lineage[0]["run_id"] == summary.run_id and lineage[0]["source_key"] == "row-1"


def test_a_run_never_overlaps_itself(make_engine):
    fakes.SOURCES["src"] = fakes.records(5)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    from runtime.engine.state.store import holder_id

    assert engine.store.acquire_lease("interface:1", "other-host:1:1", 60)
    assert engine.run_interface(1).outcome == "skipped"
    engine.store.release_lease("interface:1", "other-host:1:1")
    assert engine.run_interface(1).outcome == "ok"
    assert holder_id()


def test_scheduled_tick_is_claimed_once(make_engine):
    fakes.SOURCES["src"] = fakes.records(5)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    assert engine.run_interface(1, "cron", run_key="1@2026-11-28T02:00").outcome == "ok"
    assert engine.run_interface(1, "cron", run_key="1@2026-11-28T02:00").outcome == "skipped"
