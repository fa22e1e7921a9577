"""The pipeline's promises, with in-process fake plugins: nothing lost, nothing sent twice
without need, one bad record never stops the others, order per key kept."""

from __future__ import annotations

import time

import engine_fakes as fakes

from runtime.errors import ConfigError
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


class Crash(BaseException):
    """A SIGKILL in-process: nothing after it runs, nothing is recorded by it."""


def _crashing_target(after: int):
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    write = fakes.MemoryTarget.write

    def crash_write(self, items):
        if len(self.b.received) >= after:
            raise Crash()
        return write(self, items)

    return target, crash_write


def test_a_crash_mid_batch_resends_nothing_that_a_step_recorded(make_engine, monkeypatch):
    # one batch of 200, steps of 20: the crash comes after 100 deliveries; with record cursors the
    # cursor is at 100 and the next run sends only the other 100
    records = fakes.records(200)
    for i, record in enumerate(records):
        record.cursor = str(i + 1)  # the memory source's position after this record
    fakes.SOURCES["src"] = records
    target, crash_write = _crashing_target(after=90)
    monkeypatch.setattr(fakes.MemoryTarget, "write", crash_write)
    engine = make_engine([iface(batch_size=200, commit_every=20)])
    try:
        engine.run_interface(1)
    except Crash:
        pass
    assert len(target.received) == 100  # five steps of 20 went out before the sixth call crashed
    assert engine.store.cursor(1, "memory") == "100"
    [run] = engine.store.list_runs(1)
    assert (run["read"], run["delivered"]) == (100, 100)
    monkeypatch.undo()
    engine.store.close_orphaned_runs(1)
    summary = engine.run_interface(1)
    assert (summary.read, summary.delivered, summary.skipped) == (100, 100, 0)
    assert target.duplicates == 0 and len({i.source_key for i in target.received}) == 200


def test_a_crash_mid_batch_without_record_cursors_skips_what_a_step_recorded(make_engine, monkeypatch):
    # no Record.cursor: the cursor moves at the batch's end only, but the steps' ledger rows make
    # the re-read batch skip the 100 delivered before the crash
    fakes.SOURCES["src"] = fakes.records(200)
    target, crash_write = _crashing_target(after=90)
    monkeypatch.setattr(fakes.MemoryTarget, "write", crash_write)
    engine = make_engine([iface(batch_size=200, commit_every=20)])
    try:
        engine.run_interface(1)
    except Crash:
        pass
    assert engine.store.cursor(1, "memory") is None and len(target.received) == 100
    assert engine.store.list_runs(1)[0]["read"] == 0  # nothing behind a stored cursor yet
    monkeypatch.undo()
    summary = engine.run_interface(1)
    assert (summary.read, summary.delivered, summary.skipped) == (200, 100, 100)
    assert target.duplicates == 0


def test_a_step_never_stores_a_cursor_past_a_record_waiting_for_its_retry(make_engine):
    # s5 fails transiently until its fifth attempt: steps go on recording s6.. but the cursor
    # stays below s5 until s5 is delivered
    records = fakes.records(40)
    for i, record in enumerate(records):
        record.cursor = str(i + 1)
    fakes.SOURCES["src"] = records
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    cursors: list = []
    engine = make_engine([iface(batch_size=40, commit_every=5,
                                retries={"max_attempts": 10, "initial_delay": 0.02, "max_delay": 0.02})])
    store_commit = engine.store.commit_batch
    failures = {"s5": 4}

    stored_before_s5: list[int] = []  # cursors stored while s5 still waited for its retry

    def commit_batch(*args, **kwargs):
        if kwargs.get("move_cursor"):
            cursors.append(int(kwargs["cursor"]))
            if not any(i.source_key == "s5" for i in target.received):
                stored_before_s5.append(cursors[-1])
        return store_commit(*args, **kwargs)

    write = fakes.MemoryTarget.write

    def flaky(self, items):
        out = write(self, [i for i in items if not (i.source_key in failures and failures[i.source_key] > 0)])
        by_key = iter(out)
        result = []
        for item in items:
            if failures.get(item.source_key, 0) > 0:
                failures[item.source_key] -= 1
                result.append(fakes.Outcome(error=fakes.TransientError("busy", code="503")))
            else:
                result.append(next(by_key))
        return result

    engine.store.commit_batch = commit_batch
    fakes.MemoryTarget.write = flaky
    try:
        summary = engine.run_interface(1)
    finally:
        fakes.MemoryTarget.write = write
    assert summary.delivered == 40 and summary.failed == 4
    assert cursors and cursors[-1] == 40 and cursors == sorted(cursors)
    assert stored_before_s5 and all(c <= 5 for c in stored_before_s5)  # never past s5 (position 6) before it went
    assert [i.source_key for i in target.received].index("s5") > 5  # s6.. went on meanwhile


def test_sis_outbox_record_cursors_stop_below_the_lowest_later_change():
    from plugins.sis.source import _record_cursors

    # a related object's change (seq 4) comes after root changes 7 and 9 in the list
    records = [Record(k, {}, meta={"seq": s}) for k, s in (("a", 7), ("b", 9), ("c", 4), ("d", 12))]
    _record_cursors(records, horizon=15)
    assert [r.cursor for r in records] == ["3", "3", "11", "15"]


# -- the lane's contract with a target (issue 19's lane survivors) ---------------------------


def _with_write(monkeypatch, write):
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    monkeypatch.setattr(fakes.MemoryTarget, "write", write)
    return target


def test_a_target_that_loses_an_outcome_stops_the_run_and_records_nothing(make_engine, monkeypatch):
    fakes.SOURCES["src"] = fakes.records(3)
    _with_write(monkeypatch, lambda self, items: [fakes.Outcome(reference="x") for _ in items[1:]])
    engine = make_engine([iface()])
    summary = engine.run_interface(1)
    assert summary.outcome == "error" and summary.delivered == 0
    assert summary.message == "target 'memtarget' returned 2 outcomes for 3 items"
    assert engine.store.cursor(1, "memory") is None and engine.store.delivery(1, "memtarget", "s0") is None


def test_a_record_error_raised_for_a_whole_write_is_isolated_one_by_one(make_engine, monkeypatch):
    fakes.SOURCES["src"] = fakes.records(5)
    calls: list[int] = []

    def write(self, items):
        calls.append(len(items))
        if any(i.source_key == "s3" for i in items):
            raise fakes.RecordError("the batch holds a record without crebo", code="422")
        return [fakes.Outcome(reference=i.source_key) for i in items]

    _with_write(monkeypatch, write)
    engine = make_engine([iface()])
    summary = engine.run_interface(1)
    assert (summary.delivered, summary.dead) == (4, 1)
    assert calls == [5, 1, 1, 1, 1, 1]  # the whole write, then one call per record
    [letter] = engine.store.dead_letters(interface_id=1)
    assert letter["source_key"] == "s3" and letter["error_class"] == "record"
    assert letter["reason"] == "record s3: the batch holds a record without crebo [422]"


def test_a_whole_write_that_keeps_failing_gives_each_record_a_reason_naming_it(make_engine, monkeypatch):
    fakes.SOURCES["src"] = fakes.records(3)

    def write(self, items):
        raise fakes.TransientError("bulk endpoint unavailable", code="503")

    _with_write(monkeypatch, write)
    engine = make_engine([iface(retries={"max_attempts": 2, "initial_delay": 0.001, "max_delay": 0.001})])
    summary = engine.run_interface(1)
    assert (summary.delivered, summary.dead, summary.failed) == (0, 3, 3)
    reasons = {d["source_key"]: d["reason"] for d in engine.store.dead_letters(interface_id=1)}
    # each record is retried on its own clock, so its last write may have held fewer records
    assert sorted(reasons) == ["s0", "s1", "s2"]
    for key, reason in reasons.items():
        assert reason.startswith(f"record {key}: ") and reason.endswith("bulk endpoint unavailable [503]"), reason
        assert "[503] [503]" not in reason
    assert {d["error_class"] for d in engine.store.dead_letters(interface_id=1)} == {"transient"}


def test_a_change_back_within_one_batch_is_sent(make_engine):
    # run 1 delivers v1; run 2 reads v2 then v1 again: the ledger seen by the second wave must be
    # the one the first wave left (v2), or v1 is skipped as unchanged and the target keeps v2
    fakes.SOURCES["src"] = [Record(key="s1", data={"id": "s1", "v": 1})]
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    engine.run_interface(1)
    fakes.SOURCES["src"] += [Record(key="s1", data={"id": "s1", "v": 2}), Record(key="s1", data={"id": "s1", "v": 1})]
    summary = engine.run_interface(1)
    assert [i.payload["v"] for i in target.received] == [1, 2, 1]
    assert (summary.delivered, summary.skipped) == (2, 0)


def test_a_configuration_error_in_an_outcome_stops_the_run(make_engine, monkeypatch):
    fakes.SOURCES["src"] = fakes.records(5)
    sent: list[str] = []

    def write(self, items):
        out = []
        for item in items:
            sent.append(item.source_key)
            out.append(fakes.Outcome(error=ConfigError("credentials refused (401)")) if item.source_key == "s2"
                       else fakes.Outcome(reference=item.source_key))
        return out

    _with_write(monkeypatch, write)
    engine = make_engine([iface()])
    summary = engine.run_interface(1)
    assert summary.outcome == "error" and summary.message == "credentials refused (401)"
    assert engine.store.cursor(1, "memory") is None
    assert engine.run_interface(1).outcome == "error" and sent[:5] == ["s0", "s1", "s2", "s3", "s4"]


def test_each_record_waits_its_own_retry_after_while_the_others_go_on(make_engine, monkeypatch):
    fakes.SOURCES["src"] = fakes.records(30)
    attempts: dict[str, list[float]] = {}

    def write(self, items):
        out = []
        for item in items:
            seen = attempts.setdefault(item.source_key, [])
            seen.append(time.monotonic())
            if item.source_key == "s1" and len(seen) == 1:
                out.append(fakes.Outcome(error=fakes.TransientError("429", code="429", retry_after=0.4)))
            else:
                out.append(fakes.Outcome(reference=item.source_key))
        return out

    _with_write(monkeypatch, write)
    engine = make_engine([iface(retries={"max_attempts": 3, "initial_delay": 0.001, "max_delay": 5})])
    summary = engine.run_interface(1)
    assert summary.delivered == 30 and summary.failed == 1
    first, second = attempts["s1"]
    assert second - first >= 0.4  # the peer's Retry-After, for this record
    assert max(t[0] for k, t in attempts.items() if k != "s1") < second  # the others did not wait
    assert all(len(t) == 1 for k, t in attempts.items() if k != "s1")


def test_a_drain_during_a_retry_wait_stops_the_run_at_once(make_engine, monkeypatch):
    import threading

    fakes.SOURCES["src"] = fakes.records(10)

    def write(self, items):
        return [fakes.Outcome(error=fakes.TransientError("503", code="503", retry_after=30)) if i.source_key == "s4"
                else fakes.Outcome(reference=i.source_key) for i in items]

    _with_write(monkeypatch, write)
    engine = make_engine([iface(retries={"max_attempts": 5, "initial_delay": 30, "max_delay": 60})])
    threading.Timer(0.3, engine.stop).start()
    started = time.monotonic()
    summary = engine.run_interface(1)
    # the wait asked for was 30 s: well under it means the drain cut it short, even on a loaded machine
    assert time.monotonic() - started < 20
    assert summary.outcome == "stopped" and summary.delivered == 9
    assert engine.store.cursor(1, "memory") is None  # s4 is read again next time
    assert engine.store.delivery(1, "memtarget", "s9")["status"] == "delivered"
