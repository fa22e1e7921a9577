"""The pipeline's promises that test_engine_pipeline.py leaves open (issue 19): what a run records
and answers (outcome, message, counts, the run row), the lease and the run key it runs under,
which sources and targets it opens, reads and closes and in which order, what a source is told
it may acknowledge, several sources and targets side by side, the callbacks drained after the
main source, and what a plugin is given to connect with."""

from __future__ import annotations

import threading
from typing import Literal

import engine_fakes as fakes
import pytest

from runtime.engine.pipeline import Engine, source_names, sources_of
from runtime.engine.state.store import LeaseLost
from runtime.errors import ConfigError, TransientError
from runtime.models.interface import SpecBase, TargetSpecBase
from runtime.plugin import Batch, Plugin, Record, Source


def iface(iid: int = 1, **extra) -> dict:
    policy = {"batch_size": 4, "retries": {"max_attempts": 2, "initial_delay": 0.001, "max_delay": 0.001}}
    policy.update(extra.pop("delivery", {}))
    return {"id": iid, "source": {"type": "memory", "name": "src"},
            "targets": [{"type": "memtarget", "name": "tgt"}], "delivery": policy, **extra}


@pytest.fixture
def events(monkeypatch):
    """What the memory plugins were asked to do, in order: open, read, write, commit, close."""
    seen: list[tuple] = []
    read, write = fakes.MemorySource.read, fakes.MemoryTarget.write

    def reading(self, cursor):
        seen.append(("read", cursor))
        yield from read(self, cursor)

    def writing(self, items):
        seen.append(("write", [i.source_key for i in items]))
        return write(self, items)

    monkeypatch.setattr(fakes.MemorySource, "open", lambda self: seen.append(("open source",)), raising=False)
    monkeypatch.setattr(fakes.MemorySource, "read", reading)
    monkeypatch.setattr(fakes.MemorySource, "commit", lambda self, batch: seen.append(("commit", batch.cursor)),
                        raising=False)
    monkeypatch.setattr(fakes.MemorySource, "close", lambda self: seen.append(("close source",)), raising=False)
    monkeypatch.setattr(fakes.MemoryTarget, "open", lambda self: seen.append(("open target",)), raising=False)
    monkeypatch.setattr(fakes.MemoryTarget, "write", writing)
    monkeypatch.setattr(fakes.MemoryTarget, "close", lambda self: seen.append(("close target",)), raising=False)
    return seen


# -- what a run answers and records --------------------------------------------------------------


def test_a_run_answers_and_records_its_counts_outcome_and_trigger(make_engine):
    fakes.SOURCES["src"] = fakes.records(6)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s2"})
    engine = make_engine([iface()])
    summary = engine.run_interface(1, "cron", run_key="1@2026-12-01T02:00:00")
    assert (summary.interface_id, summary.trigger, summary.outcome) == (1, "cron", "partial")
    assert (summary.read, summary.mapped, summary.delivered, summary.dead, summary.skipped) == (6, 6, 5, 1, 0)
    assert summary.message == "1 record(s) went to the dead letters"
    assert summary.duration >= 0 and summary.as_dict()["delivered"] == 5
    [row] = engine.store.list_runs(1)
    assert row["id"] == summary.run_id
    assert (row["trigger"], row["run_key"], row["outcome"], row["message"]) == (
        "cron", "1@2026-12-01T02:00:00", "partial", "1 record(s) went to the dead letters")
    assert (row["read"], row["delivered"], row["dead"]) == (6, 5, 1) and row["ended_at"] is not None
    from runtime.engine.lease import holder_id

    assert row["holder"] == holder_id()  # who ran it: this process and thread, the lease's holder
    assert sorted(i.source_key for i in target.received) == ["s0", "s1", "s3", "s4", "s5"]


def test_a_clean_run_is_ok_without_a_message(make_engine):
    import time

    fakes.SOURCES["src"] = fakes.records(3)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    started = time.monotonic()
    summary = engine.run_interface(1)
    assert 0 <= summary.duration <= time.monotonic() - started + 0.001  # the run's own time, in seconds
    assert (summary.outcome, summary.message, summary.trigger) == ("ok", None, "manual")
    [row] = engine.store.list_runs(1)
    assert (row["outcome"], row["message"], row["trigger"]) == ("ok", None, "manual")


def test_a_run_reports_how_long_it_took_to_the_millisecond(make_engine, monkeypatch):
    import time

    fakes.SOURCES["src"] = fakes.records(2)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    write = fakes.MemoryTarget.write

    def slow(self, items):
        time.sleep(0.05)  # a peer that takes its time
        return write(self, items)

    monkeypatch.setattr(fakes.MemoryTarget, "write", slow)
    engine = make_engine([iface()])
    summary = engine.run_interface(1)
    assert summary.duration >= 0.05 and summary.duration == round(summary.duration, 3)


def test_a_run_whose_interface_was_taken_over_before_it_closed_leaves_the_run_row_to_the_new_holder(
        make_engine, monkeypatch, caplog):
    import logging

    from runtime.engine.lease import holder_id

    fakes.SOURCES["src"] = fakes.records(2)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])

    def taken_over(self):
        # its lease expired while it closed its connections; another daemon took the interface
        engine.store.release_lease("interface:1", holder_id())
        assert engine.store.acquire_lease("interface:1", "other-host:9:9", 60)

    monkeypatch.setattr(fakes.MemorySource, "close", taken_over, raising=False)
    caplog.set_level(logging.WARNING, logger="koppel.engine")
    summary = engine.run_interface(1)
    assert summary.delivered == 2
    assert engine.store.list_runs(1)[0]["outcome"] == "running"  # the new holder closes or resumes it
    assert "run not closed here: another daemon holds the interface now" in caplog.messages


def test_a_planned_interface_is_refused_and_nothing_runs(make_engine):
    fakes.SOURCES["src"] = fakes.records(3)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface(status="planned")])
    with pytest.raises(ConfigError, match="interface 1 is planned: it can be dry-run, not run"):
        engine.run_interface(1)
    assert target.received == [] and engine.store.list_runs(1) == []


def test_an_interface_is_found_by_its_file_stem_too(make_engine):
    fakes.SOURCES["src"] = fakes.records(2)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    summary = engine.run_interface("01-test")
    assert summary.interface_id == 1 and summary.delivered == 2
    assert engine.store.list_runs(1)[0]["interface_id"] == 1


class Metrics:
    """Records every call a metrics sink gets, by method name."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, name):
        return lambda *args, **kw: self.calls.append((name, *args))


def test_metrics_get_each_run_s_outcome_and_duration(make_engine, tmp_path, reg):
    fakes.SOURCES["src"] = fakes.records(3)
    fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s1"})
    project = fakes.make_project(tmp_path, reg, [iface()])
    metrics = Metrics()
    engine = Engine(project, reg, "sandbox", state_url=f"sqlite:///{tmp_path / 'm.db'}", metrics=metrics)
    try:
        summary = engine.run_interface(1)
    finally:
        engine.close()
    runs = [c for c in metrics.calls if c[0] == "run"]
    assert runs == [("run", 1, "partial", summary.duration)]
    # the lanes report to the same sink, labelled with the interface and the target
    assert {c[1:3] for c in metrics.calls if c[0] == "write_latency"} == {(1, "memtarget")}
    assert [c[1:] for c in metrics.calls if c[0] == "dead"] == [(1, "record")]


# -- the lease and the run key -----------------------------------------------------------------


def test_a_busy_interface_is_skipped_and_nothing_is_read(make_engine, events):
    fakes.SOURCES["src"] = fakes.records(3)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    assert engine.store.acquire_lease("interface:1", "other-host:9:9", 60)
    summary = engine.run_interface(1, "cron", run_key="1@2026-12-01T02:00:00")
    assert (summary.interface_id, summary.trigger, summary.outcome, summary.message, summary.run_id) == (
        1, "cron", "skipped", "a run of this interface is already in progress", None)
    assert events == [] and engine.store.list_runs(1) == []
    # the tick was not claimed: once the interface is free, the same key runs
    engine.store.release_lease("interface:1", "other-host:9:9")
    assert engine.run_interface(1, "cron", run_key="1@2026-12-01T02:00:00").outcome == "ok"


def _run_while_another_holds_the_lease(make_engine, freed_after: float, **run_options):
    """Run interface 1 while another daemon holds its lease and frees it ``freed_after`` seconds
    later; the engine and the run's summary."""
    fakes.SOURCES["src"] = fakes.records(3)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    assert engine.store.acquire_lease("interface:1", "other-host:9:9", 60)
    releaser = threading.Timer(freed_after, engine.store.release_lease, args=("interface:1", "other-host:9:9"))
    releaser.start()
    try:
        return engine, engine.run_interface(1, **run_options)
    finally:
        releaser.join()


def test_a_run_waits_for_the_lease_as_long_as_it_is_told(make_engine):
    _, summary = _run_while_another_holds_the_lease(make_engine, 0.3, lease_wait=30)
    assert summary.outcome == "ok" and summary.delivered == 3


def test_a_run_does_not_wait_for_a_busy_interface_unless_told(make_engine):
    # the other run frees it half a second later: too late
    engine, summary = _run_while_another_holds_the_lease(make_engine, 0.5)
    assert summary.outcome == "skipped" and engine.store.list_runs(1) == []


def test_the_lease_is_free_again_after_a_run_whatever_its_outcome(make_engine, monkeypatch):
    fakes.SOURCES["src"] = fakes.records(3)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface(delivery={"skip_unchanged": False})])
    engine.run_interface(1)
    assert engine.store.acquire_lease("interface:1", "other-host:9:9", 60)
    engine.store.release_lease("interface:1", "other-host:9:9")

    def broken(self, items):
        raise ConfigError("credentials refused (401)")

    monkeypatch.setattr(fakes.MemoryTarget, "write", broken)
    engine.store.set_cursor(1, "memory", None)
    assert engine.run_interface(1).outcome == "error"
    assert engine.store.acquire_lease("interface:1", "other-host:9:9", 60)


def test_a_claimed_run_key_runs_nothing_and_says_who_has_it(make_engine):
    fakes.SOURCES["src"] = fakes.records(3)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface(delivery={"skip_unchanged": False})])
    first = engine.run_interface(1, "cron", run_key="1@2026-12-01T02:00:00")
    engine.store.set_cursor(1, "memory", None)  # would deliver all three again if it ran
    again = engine.run_interface(1, "cron", run_key="1@2026-12-01T02:00:00")
    assert (again.interface_id, again.trigger, again.outcome, again.run_id, again.delivered) == (1, "cron", "skipped", None, 0)
    assert again.message == "run 1@2026-12-01T02:00:00 was claimed by another daemon"
    assert len(target.received) == 3 and [r["id"] for r in engine.store.list_runs(1)] == [first.run_id]
    # the lease was given back: a manual run goes ahead
    assert engine.run_interface(1).delivered == 3


def test_a_run_a_dead_process_left_running_is_closed_as_crashed_by_the_next(make_engine):
    fakes.SOURCES["src"] = fakes.records(2)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface(), iface(2)])
    dead = engine.store.start_run(1, "cron", run_key="1@2026-12-01T01:00:00", holder="gone-host:1:1")
    elsewhere = engine.store.start_run(2, "cron", holder="gone-host:1:1")
    summary = engine.run_interface(1)
    runs = {r["id"]: r for r in engine.store.list_runs(1)}
    assert runs[dead]["outcome"] == "crashed" and runs[summary.run_id]["outcome"] == "ok"
    assert engine.store.list_runs(2)[0]["id"] == elsewhere and engine.store.list_runs(2)[0]["outcome"] == "running"


# -- errors, drains, a lost lease ----------------------------------------------------------------


def test_a_source_that_fails_to_open_ends_the_run_as_error_and_closes_what_was_opened(make_engine, events, monkeypatch):
    fakes.SOURCES["src"] = fakes.records(3)
    fakes.TARGETS["tgt"] = fakes.Behaviour()

    def refuse(self):
        events.append(("open source",))
        raise TransientError("sis unreachable", code="503")

    monkeypatch.setattr(fakes.MemorySource, "open", refuse, raising=False)
    engine = make_engine([iface()])
    summary = engine.run_interface(1)
    assert (summary.outcome, summary.message) == ("error", "sis unreachable [503]")
    assert events == [("open target",), ("open source",), ("close target",), ("close source",)]
    assert engine.store.list_runs(1)[0]["outcome"] == "error"


def test_an_unexpected_exception_is_an_error_named_by_its_class(make_engine, monkeypatch):
    fakes.SOURCES["src"] = fakes.records(3)
    fakes.TARGETS["tgt"] = fakes.Behaviour()

    def read(self, cursor):
        raise RuntimeError("socket closed")
        yield

    monkeypatch.setattr(fakes.MemorySource, "read", read)
    engine = make_engine([iface()])
    summary = engine.run_interface(1)
    assert (summary.outcome, summary.message) == ("error", "RuntimeError: socket closed")
    row = engine.store.list_runs(1)[0]
    assert (row["outcome"], row["message"]) == ("error", "RuntimeError: socket closed")


def test_a_close_that_fails_does_not_change_the_outcome_and_the_rest_are_closed(make_engine, events, monkeypatch):
    fakes.SOURCES["src"] = fakes.records(3)
    fakes.TARGETS["tgt"] = fakes.Behaviour()

    def close(self):
        events.append(("close target",))
        raise OSError("connection reset")

    monkeypatch.setattr(fakes.MemoryTarget, "close", close, raising=False)
    engine = make_engine([iface()])
    summary = engine.run_interface(1)
    assert summary.outcome == "ok" and summary.delivered == 3
    assert events[-2:] == [("close target",), ("close source",)]


def test_a_drain_stops_the_run_after_the_batch_in_hand(make_engine, events, monkeypatch):
    fakes.SOURCES["src"] = fakes.records(12)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    write = fakes.MemoryTarget.write  # the events fixture's, which records

    def draining(self, items):
        engine.stop()  # SIGTERM while the first batch is being delivered
        return write(self, items)

    monkeypatch.setattr(fakes.MemoryTarget, "write", draining)
    summary = engine.run_interface(1)
    assert (summary.outcome, summary.message) == ("stopped", "stopped by a drain")
    assert summary.delivered == 4 and engine.store.cursor(1, "memory") == "4"
    assert [e for e in events if e[0] in ("write", "commit")] == [("write", ["s0", "s1", "s2", "s3"]), ("commit", "4")]
    assert engine.store.list_runs(1)[0]["outcome"] == "stopped"


def test_a_lost_lease_stops_the_run_and_leaves_the_run_row_to_the_new_holder(make_engine, monkeypatch):
    fakes.SOURCES["src"] = fakes.records(12)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    commit_batch, calls = engine.store.commit_batch, []

    def commit(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # another daemon took the interface over between two batches
            raise LeaseLost("lease interface:1 is held by other-host:9:9 now")
        return commit_batch(*args, **kwargs)

    monkeypatch.setattr(engine.store, "commit_batch", commit)
    monkeypatch.setattr(engine.store, "finish_run", lambda *a, **kw: False)
    summary = engine.run_interface(1)
    assert (summary.outcome, summary.message) == ("stopped", "lease interface:1 is held by other-host:9:9 now")
    assert summary.delivered == 4 and engine.store.cursor(1, "memory") == "4"


# -- sources: opened, read from their cursor, acknowledged after the state is durable ----------


def test_the_order_of_a_run_open_read_write_record_acknowledge_close(make_engine, events, monkeypatch):
    fakes.SOURCES["src"] = fakes.records(6)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    commit = fakes.MemorySource.commit  # the events fixture's

    def acknowledge(self, batch):
        # the source may drop what it handed over only once the state database holds it
        events.append(("stored cursor", engine.store.cursor(1, "memory")))
        commit(self, batch)

    monkeypatch.setattr(fakes.MemorySource, "commit", acknowledge, raising=False)
    engine.store.set_cursor(1, "memory", "0")
    engine.run_interface(1)
    assert events == [
        ("open target",), ("open source",), ("read", "0"),
        ("write", ["s0", "s1", "s2", "s3"]), ("stored cursor", "4"), ("commit", "4"),
        ("write", ["s4", "s5"]), ("stored cursor", "6"), ("commit", "6"),
        ("close target",), ("close source",)]


def test_a_run_reads_on_from_the_stored_cursor(make_engine, events):
    fakes.SOURCES["src"] = fakes.records(6)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    engine.store.set_cursor(1, "memory", "5")
    summary = engine.run_interface(1)
    assert ("read", "5") in events and [i.source_key for i in target.received] == ["s5"]
    assert summary.read == 1 and engine.store.cursor(1, "memory") == "6"


class Progress:
    """An interactive run's progress callback (cli.py): counts as they go, and the total."""

    wants_total = True

    def __init__(self) -> None:
        self.counts: list[dict] = []
        self.totals: list[int] = []

    def __call__(self, counts: dict) -> None:
        self.counts.append(counts)

    def expect(self, total: int) -> None:
        self.totals.append(total)


def test_an_interactive_run_learns_the_total_left_from_the_cursor_and_sees_counts_grow(make_engine, monkeypatch):
    fakes.SOURCES["src"] = fakes.records(10)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    asked: list = []

    def total(self, cursor):
        asked.append(cursor)
        return len(self.records) - int(cursor or 0)

    monkeypatch.setattr(fakes.MemorySource, "total", total, raising=False)
    engine = make_engine([iface()])
    engine.store.set_cursor(1, "memory", "2")
    progress = Progress()
    engine.run_interface(1, progress=progress)
    assert asked == ["2"] and progress.totals == [8]
    assert [c["delivered"] for c in progress.counts][-1] == 8
    assert progress.counts == sorted(progress.counts, key=lambda c: c["delivered"])


def test_a_progress_callback_that_wants_no_total_is_not_asked_to_expect_one(make_engine, monkeypatch):
    fakes.SOURCES["src"] = fakes.records(3)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    monkeypatch.setattr(fakes.MemorySource, "total", lambda self, cursor: 3, raising=False)
    engine = make_engine([iface()])
    seen: list = []
    engine.run_interface(1, progress=seen.append)  # a plain callable: no wants_total, no expect
    assert seen[-1]["delivered"] == 3


class NamedSourceSpec(SpecBase):
    type: Literal["named"]
    name: str


def test_several_sources_are_read_in_turn_each_from_its_own_cursor(make_engine):
    fakes.SOURCES["a"] = fakes.records(3, "a")
    fakes.SOURCES["b"] = fakes.records(2, "b")
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([{"id": 1, "sources": [{"type": "memory", "name": "a"}, {"type": "memory", "name": "b"}],
                           "targets": [{"type": "memtarget", "name": "tgt"}]}])
    summary = engine.run_interface(1)
    assert [i.source_key for i in target.received] == ["a0", "a1", "a2", "b0", "b1"] and summary.read == 5
    assert (engine.store.cursor(1, "memory:0"), engine.store.cursor(1, "memory:1")) == ("3", "2")
    fakes.SOURCES["b"] += fakes.records(3, "b")[2:]
    assert engine.run_interface(1).read == 1 and target.received[-1].source_key == "b2"


def test_a_drain_during_one_source_leaves_the_sources_after_it_unread(make_engine, monkeypatch):
    fakes.SOURCES["a"] = fakes.records(3, "a")
    fakes.SOURCES["b"] = fakes.records(2, "b")
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    read = fakes.MemorySource.read

    def read_then_drain(self, cursor):
        for batch in read(self, cursor):
            yield batch
            if batch.records[0].key.startswith("a"):
                self_engine.stop()  # a drain after the first source's first batch

    monkeypatch.setattr(fakes.MemorySource, "read", read_then_drain)
    self_engine = make_engine([{"id": 1, "sources": [{"type": "memory", "name": "a"}, {"type": "memory", "name": "b"}],
                                "targets": [{"type": "memtarget", "name": "tgt"}], "delivery": {"batch_size": 2}}])
    summary = self_engine.run_interface(1)
    # the drain came while the source handed over its second batch: that one is finished, then stop
    assert summary.outcome == "stopped"
    assert [i.source_key for i in target.received] == ["a0", "a1", "a2"]
    assert self_engine.store.cursor(1, "memory:0") == "3" and self_engine.store.cursor(1, "memory:1") is None


def test_source_cursor_names_tell_several_sources_apart():
    class S:
        def __init__(self, type, system=None):
            self.type, self.system = type, system

    class Interface:
        def __init__(self, *specs):
            self.all_sources, self.source = list(specs), specs[0]

    assert source_names(Interface(S("sis"))) == ["sis"]
    assert source_names(Interface(S("rest", "eduarte"), S("rest", "magister"))) == ["rest:eduarte", "rest:magister"]
    assert source_names(Interface(S("rest", "x"), S("rest", "x"), S("db"))) == ["rest:x#0", "rest:x#1", "db:2"]
    single = Interface(S("sis"))
    single.all_sources = None
    assert [s.type for s in sources_of(single)] == ["sis"]


# -- targets: one lane and one ledger each ------------------------------------------------------


def test_each_target_gets_every_record_and_a_ledger_of_its_own(make_engine):
    fakes.SOURCES["src"] = fakes.records(3)
    first = fakes.TARGETS["one"] = fakes.Behaviour()
    second = fakes.TARGETS["two"] = fakes.Behaviour(reject={"s1"})
    engine = make_engine([{"id": 1, "source": {"type": "memory", "name": "src"},
                           "targets": [{"type": "memtarget", "name": "one"}, {"type": "memtarget", "name": "two"}]}])
    summary = engine.run_interface(1)
    assert [i.source_key for i in first.received] == ["s0", "s1", "s2"]
    assert [i.source_key for i in second.received] == ["s0", "s2"]
    assert (summary.delivered, summary.dead) == (5, 1)
    assert engine.store.delivery(1, "memtarget#0", "s1")["status"] == "delivered"
    assert engine.store.delivery(1, "memtarget#1", "s1")["status"] == "dead"
    assert [d["target"] for d in engine.store.dead_letters(interface_id=1)] == ["memtarget#1"]


def test_targets_are_named_by_their_system(make_engine):
    fakes.SOURCES["src"] = fakes.records(1)
    fakes.TARGETS["one"] = fakes.Behaviour()
    fakes.TARGETS["two"] = fakes.Behaviour()
    engine = make_engine([{"id": 1, "source": {"type": "memory", "name": "src"},
                           "targets": [{"type": "memtarget", "name": "one", "system": "eduarte"},
                                       {"type": "memtarget", "name": "two"}]}])
    engine.run_interface(1)
    assert engine.store.delivery(1, "eduarte", "s0") is not None
    assert engine.store.delivery(1, "memtarget", "s0") is not None
    assert engine.target_names(engine.project.interface(1)) == ["eduarte", "memtarget"]


def test_a_target_s_own_mapping_wins_and_each_delivery_names_the_version_it_went_out_with(make_engine):
    fakes.SOURCES["src"] = fakes.records(1)
    one = fakes.TARGETS["one"] = fakes.Behaviour()
    two = fakes.TARGETS["two"] = fakes.Behaviour()
    engine = make_engine([{"id": 1, "source": {"type": "memory", "name": "src"}, "mapping": "algemeen",
                           "targets": [{"type": "memtarget", "name": "one"},
                                       {"type": "memtarget", "name": "two", "mapping": "eigen"}]}])

    def algemeen(record):
        return {"nummer": record["id"]}

    def eigen(record):
        return {"code": record["id"]}

    algemeen.version = "3"  # type: ignore[attr-defined]
    engine._mappings.update(algemeen=algemeen, eigen=eigen)
    engine.run_interface(1)
    assert one.received[0].payload == {"nummer": "s0"} and two.received[0].payload == {"code": "s0"}
    assert engine.store.delivery(1, "memtarget#0", "s0")["mapping_version"] == "algemeen@3"
    assert engine.store.delivery(1, "memtarget#1", "s0")["mapping_version"] == "eigen"


def test_without_a_mapping_the_record_goes_out_as_read_with_no_version(make_engine):
    fakes.SOURCES["src"] = fakes.records(1)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    engine.run_interface(1)
    assert target.received[0].payload == {"id": "s0", "n": 0, "name": "Student 0"}
    assert engine.store.delivery(1, "memtarget", "s0")["mapping_version"] is None


def test_a_mapping_is_loaded_once_per_engine(make_engine, monkeypatch):
    import runtime.mapping as mapping_module

    loads: list[str] = []

    def load(root, name):
        loads.append((str(root), name))
        return lambda record: {"nummer": record["id"]}

    monkeypatch.setattr(mapping_module, "load_mapping", load)
    fakes.SOURCES["src"] = fakes.records(2)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface(mapping="studenten")])
    engine.run_interface(1)
    engine.store.set_cursor(1, "memory", None)
    engine.run_interface(1)
    # from the project's own mappings/ folder, once
    assert loads == [(str(engine.project.root), "studenten")]
    assert engine.mapping("studenten") is engine.mapping("studenten")


@pytest.mark.parametrize("value", [None, ""])
def test_a_record_whose_idempotency_key_is_empty_is_a_dead_letter_the_others_go(make_engine, value):
    data = {"studentnummer": value} if value is not None else {}
    fakes.SOURCES["src"] = [Record("r1", {"studentnummer": "1"}), Record("r2", data), Record("r3", {"studentnummer": 0})]
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface(delivery={"idempotency_key": "studentnummer"})])
    summary = engine.run_interface(1)
    assert (summary.delivered, summary.dead) == (2, 1)
    assert [i.source_key for i in target.received] == ["r1", "r3"]
    [letter] = engine.store.dead_letters(interface_id=1)
    assert letter["source_key"] == "r2" and letter["error_class"] == "record"
    assert letter["reason"] == "record r2: studentnummer: idempotency key 'studentnummer' is empty for this record"
    assert engine.store.delivery(1, "memtarget", "0")["source_key"] == "r3"  # 0 is a key, not an empty one


# -- quiet triggers: an empty slice is not history -----------------------------------------------


@pytest.mark.parametrize("trigger", ["outbox", "poll", "webhook", "interval"])
def test_an_empty_run_of_a_frequent_trigger_leaves_no_run_row(make_engine, trigger):
    fakes.SOURCES["src"] = []
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    summary = engine.run_interface(1, trigger)
    assert (summary.outcome, summary.run_id) == ("ok", None)
    assert engine.store.list_runs(1) == []


@pytest.mark.parametrize("trigger", ["manual", "cron", "resume"])
def test_an_empty_run_of_a_rare_trigger_is_kept(make_engine, trigger):
    fakes.SOURCES["src"] = []
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    summary = engine.run_interface(1, trigger)
    assert summary.run_id is not None and [r["outcome"] for r in engine.store.list_runs(1)] == ["ok"]


def test_a_frequent_run_that_found_something_or_failed_is_kept(make_engine, monkeypatch):
    fakes.SOURCES["src"] = fakes.records(1)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    found = engine.run_interface(1, "poll")
    engine.store.set_cursor(1, "memory", None)
    unchanged = engine.run_interface(1, "poll")  # read and skipped: it did read something
    assert unchanged.skipped == 1
    monkeypatch.setattr(fakes.MemorySource, "read", lambda self, cursor: (_ for _ in ()).throw(OSError("down")))
    failed = engine.run_interface(1, "poll")
    kept = {r["id"]: r["outcome"] for r in engine.store.list_runs(1)}
    assert kept == {found.run_id: "ok", unchanged.run_id: "ok", failed.run_id: "error"}


# -- what a plugin is given ----------------------------------------------------------------------


def test_a_plugin_gets_its_system_s_settings_for_the_environment_and_the_batch_size(tmp_path):
    contexts: list = []
    extra = {"named": Plugin("named", "records its context", source_spec=NamedSourceSpec,
                             create_source=lambda s, c: contexts.append(c) or fakes.MemorySource(s, c))}
    registry = fakes.registry(extra)
    fakes.SOURCES["src"] = fakes.records(1)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    project = fakes.make_project(tmp_path, registry, [
        {"id": 1, "source": {"type": "named", "name": "src", "system": "eduarte"},
         "targets": [{"type": "memtarget", "name": "tgt"}], "delivery": {"batch_size": 7}},
        {"id": 2, "source": {"type": "named", "name": "src", "system": "onbekend"},
         "targets": [{"type": "memtarget", "name": "tgt"}]},
    ], {"eduarte": {"url": "https://eduarte.test/api"}})
    url = f"sqlite:///{tmp_path / 'ctx.db'}"
    engine = Engine(project, registry, "acceptatie", state_url=url)
    try:
        engine.run_interface(1)
        engine.run_interface(2)
    finally:
        engine.close()
    known, unknown = contexts
    assert (known.environment, known.system_name, known.interface_id, known.state_url) == ("acceptatie", "eduarte", 1, url)
    assert known.system is project.catalog.systems["eduarte"].environments["acceptatie"]
    assert known.options == {"batch_size": 7} and str(known.project_root) == str(tmp_path)
    assert (unknown.system_name, unknown.system, unknown.interface_id) == ("onbekend", None, 2)
    assert unknown.options["batch_size"] == 500


def test_a_plugin_without_a_catalog_gets_no_system(make_engine):
    fakes.SOURCES["src"] = fakes.records(1)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface(source={"type": "memory", "name": "src", "system": "eduarte"})])
    interface = engine.project.interface(1)
    ctx = engine.context(interface, interface.source, inbox_channel="callback:x")
    assert (ctx.system_name, ctx.system) == ("eduarte", None)
    assert ctx.options == {"batch_size": 4, "inbox_channel": "callback:x"}


# -- callbacks: drained after the main source, under the same lease -----------------------------


class InboxSource(Source):
    """The durable inbox of one callback channel (the webhook plugin's role), in memory."""

    def __init__(self, spec, ctx) -> None:
        self.records = fakes.SOURCES[ctx.options["inbox_channel"]]

    def read(self, cursor):
        start = int(cursor or 0)
        if start < len(self.records):
            yield Batch(self.records[start:], cursor=str(len(self.records)))


@pytest.fixture
def with_callbacks(make_engine):
    from plugins.sis.spec import SisTarget
    from plugins.webhook.spec import WebhookSource

    fakes.SOURCES.update(src=fakes.records(2), **{"callback:signhost": [
        Record("TX1", {"Id": "TX1", "Status": 30}), Record("TX2", {"Id": "TX2", "Status": 40})]})
    fakes.TARGETS["sis"] = fakes.Behaviour()
    main = fakes.TARGETS["tgt"] = fakes.Behaviour()

    class SisFake(fakes.MemoryTarget):
        def __init__(self, spec, ctx) -> None:
            self.b = fakes.TARGETS["sis"]

    registry = fakes.registry({
        "webhook": Plugin("webhook", "inbox", source_spec=WebhookSource, create_source=InboxSource, inbox=True),
        "sis": Plugin("sis", "fake sis", target_spec=SisTarget, create_target=SisFake)})

    def make(trigger: dict, *more: dict) -> Engine:
        engine = make_engine([{"id": 14, "trigger": trigger, "source": {"type": "memory", "name": "src"},
                               "targets": [{"type": "memtarget", "name": "tgt"}],
                               "callbacks": [{"name": "signhost", "mapping": "signhost-postback",
                                              "source": {"type": "webhook", "path": "/hooks/signhost"},
                                              "target": {"type": "sis", "object": "document"}}, *more]}],
                             registry=registry)
        engine._mappings["signhost-postback"] = lambda body: {"sign_transaction_id": body["Id"], "status": body["Status"]}
        return engine

    return make, main, fakes.TARGETS["sis"]


def test_a_batch_run_delivers_first_then_drains_its_callbacks(with_callbacks):
    make, main, sis = with_callbacks
    engine = make({"type": "cron", "cron": "*/30 * * * *"})
    summary = engine.run_interface(14, "cron")
    assert [i.source_key for i in main.received] == ["s0", "s1"]
    assert [i.payload for i in sis.received] == [{"sign_transaction_id": "TX1", "status": 30},
                                                 {"sign_transaction_id": "TX2", "status": 40}]
    assert summary.outcome == "ok" and summary.delivered == 4
    assert engine.store.cursor(14, "callback:signhost") == "2"
    assert engine.store.delivery(14, "callback:signhost", "TX2")["status"] == "delivered"


def test_every_callback_of_an_interface_is_drained_in_turn(with_callbacks):
    make, _main, sis = with_callbacks
    fakes.SOURCES["callback:remindo"] = [Record("R1", {"Id": "R1", "Status": 1})]
    engine = make({"type": "cron", "cron": "*/30 * * * *"},
                  {"name": "remindo", "mapping": "signhost-postback", "source": {"type": "webhook", "path": "/hooks/remindo"},
                   "target": {"type": "sis", "object": "result"}})
    summary = engine.run_interface(14, "cron")
    assert [i.source_key for i in sis.received] == ["TX1", "TX2", "R1"] and summary.delivered == 5
    assert (engine.store.cursor(14, "callback:signhost"), engine.store.cursor(14, "callback:remindo")) == ("2", "1")


def test_a_webhook_run_of_a_batch_interface_drains_only_its_callbacks(with_callbacks):
    make, main, sis = with_callbacks
    engine = make({"type": "cron", "cron": "*/30 * * * *"})
    summary = engine.run_interface(14, "webhook")
    assert main.received == [] and len(sis.received) == 2
    assert (summary.outcome, summary.delivered) == ("ok", 2)
    assert engine.store.cursor(14, "memory") is None


def test_a_callback_the_sis_refuses_makes_the_run_partial(with_callbacks):
    make, _main, sis = with_callbacks
    sis.reject.add("TX2")
    engine = make({"type": "cron", "cron": "*/30 * * * *"})
    summary = engine.run_interface(14, "cron")
    assert (summary.outcome, summary.dead) == ("partial", 1)
    assert [d["target"] for d in engine.store.dead_letters(interface_id=14)] == ["callback:signhost"]


def test_a_callback_drain_that_fails_fails_the_run(with_callbacks, monkeypatch):
    make, main, _sis = with_callbacks
    engine = make({"type": "cron", "cron": "*/30 * * * *"})
    monkeypatch.setattr(InboxSource, "read", lambda self, cursor: (_ for _ in ()).throw(TransientError("inbox gone")))
    summary = engine.run_interface(14, "cron")
    assert (summary.outcome, summary.message) == ("error", "inbox gone") and len(main.received) == 2


def test_a_drained_main_source_leaves_the_callbacks_for_the_next_run(with_callbacks, monkeypatch):
    make, main, sis = with_callbacks
    engine = make({"type": "cron", "cron": "*/30 * * * *"})
    write = fakes.MemoryTarget.write

    def draining(self, items):
        engine.stop()
        return write(self, items)

    monkeypatch.setattr(fakes.MemoryTarget, "write", draining)
    summary = engine.run_interface(14, "cron")
    assert summary.outcome == "stopped" and len(main.received) == 2 and sis.received == []


def test_a_callback_drain_stopped_mid_way_reports_the_stop(with_callbacks, monkeypatch):
    make, main, sis = with_callbacks
    fakes.SOURCES["callback:signhost"] += [Record(f"TX{i}", {"Id": f"TX{i}", "Status": 30}) for i in range(3, 9)]
    engine = make({"type": "cron", "cron": "*/30 * * * *"})
    monkeypatch.setattr(InboxSource, "read", lambda self, cursor: (
        Batch(self.records[i:i + 2], cursor=str(i + 2)) for i in range(int(cursor or 0), len(self.records), 2)))
    write = fakes.MemoryTarget.write

    def draining(self, items):
        if self.b is sis:
            engine.stop()
        return write(self, items)

    monkeypatch.setattr(fakes.MemoryTarget, "write", draining)
    summary = engine.run_interface(14, "cron")
    assert (summary.outcome, summary.message) == ("stopped", "stopped by a drain")
    assert len(main.received) == 2 and len(sis.received) == 2
    assert engine.store.cursor(14, "callback:signhost") == "2"


def test_callback_targets_and_inboxes_are_opened_and_closed_with_the_run(with_callbacks, monkeypatch):
    make, _main, _sis = with_callbacks
    seen: list[str] = []
    for cls, name in ((InboxSource, "inbox"), (fakes.MemoryTarget, "target"), (fakes.MemorySource, "source")):
        monkeypatch.setattr(cls, "open", lambda self, n=name: seen.append(f"open {n}:{type(self).__name__}"), raising=False)
        monkeypatch.setattr(cls, "close", lambda self, n=name: seen.append(f"close {n}:{type(self).__name__}"), raising=False)
    engine = make({"type": "cron", "cron": "*/30 * * * *"})
    engine.run_interface(14, "cron")
    assert seen == ["open target:MemoryTarget", "open source:MemorySource", "open target:SisFake", "open inbox:InboxSource",
                    "close target:MemoryTarget", "close target:SisFake", "close source:MemorySource",
                    "close inbox:InboxSource"]


# -- several targets: a drain in one lane's retry leaves the others untouched -------------------


def test_a_drain_while_the_first_target_retries_leaves_the_batch_to_the_next_run(make_engine, monkeypatch):
    fakes.SOURCES["src"] = fakes.records(4)
    first = fakes.TARGETS["one"] = fakes.Behaviour()
    second = fakes.TARGETS["two"] = fakes.Behaviour()
    write = fakes.MemoryTarget.write

    def busy_first(self, items):
        if self.b is first and any(i.source_key == "s2" for i in items):
            return [fakes.Outcome(error=TransientError("busy", code="503", retry_after=30)) if i.source_key == "s2"
                    else write(self, [i])[0] for i in items]
        return write(self, items)

    monkeypatch.setattr(fakes.MemoryTarget, "write", busy_first)
    engine = make_engine([{"id": 1, "source": {"type": "memory", "name": "src"},
                           "targets": [{"type": "memtarget", "name": "one"}, {"type": "memtarget", "name": "two"}],
                           "delivery": {"retries": {"max_attempts": 5, "initial_delay": 30, "max_delay": 60}}}])
    timer = threading.Timer(0.3, engine.stop)
    timer.start()
    try:
        summary = engine.run_interface(1)
    finally:
        timer.cancel()
    assert (summary.outcome, summary.message) == (
        "stopped", "stopped by a drain while retrying; the batch is read again next time")
    assert second.received == [] and engine.store.cursor(1, "memory") is None
    assert sorted(i.source_key for i in first.received) == ["s0", "s1", "s3"]


# -- the engine's own set-up ---------------------------------------------------------------------


def test_an_engine_on_a_given_store_uses_it_and_hands_its_url_to_plugins(tmp_path, reg):
    from runtime.engine.state.store import StateStore

    fakes.SOURCES["src"] = fakes.records(1)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    url = f"sqlite:///{tmp_path / 'given.db'}"
    store = StateStore(url)
    project = fakes.make_project(tmp_path, reg, [iface()])
    engine = Engine(project, reg, store=store)
    try:
        assert engine.store is store and engine.state_url == url and engine.environment == "sandbox"
        interface = project.interface(1)
        assert engine.context(interface, interface.source).state_url == url
        engine.run_interface(1)
        assert store.cursor(1, "memory") == "1"
    finally:
        engine.close()


def test_an_engine_without_a_state_url_uses_the_project_s_default(tmp_path, reg, monkeypatch):
    from runtime import settings

    monkeypatch.delenv("KOPPEL_STATE_URL", raising=False)
    project = fakes.make_project(tmp_path, reg, [iface()])
    engine = Engine(project, reg)
    try:
        assert engine.state_url == settings.state_url(project.root)
        assert engine.store.url == engine.state_url
    finally:
        engine.close()


def test_create_source_reads_the_first_source_when_none_is_named(make_engine):
    fakes.SOURCES["a"] = fakes.records(2, "a")
    fakes.SOURCES["b"] = fakes.records(2, "b")
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([{"id": 1, "sources": [{"type": "memory", "name": "a"}, {"type": "memory", "name": "b"}],
                           "targets": [{"type": "memtarget", "name": "tgt"}]}])
    source = engine.create_source(engine.project.interface(1))
    assert [r.key for batch in source.read(None) for r in batch.records] == ["a0", "a1"]


def test_create_source_refuses_a_plugin_that_is_no_source(make_engine):
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    interface = engine.project.interface(1)
    with pytest.raises(ConfigError, match="unknown source plugin type 'memtarget'; known: memory"):
        engine.create_source(interface, interface.targets[0])


def test_create_target_refuses_a_plugin_that_is_no_target(make_engine):
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    interface = engine.project.interface(1)
    with pytest.raises(ConfigError, match="unknown target plugin type 'memory'; known: memtarget"):
        engine.create_target(interface, interface.source)


def test_a_target_plugin_gets_its_own_system_s_settings(tmp_path):
    contexts: list = []

    class NamedTargetSpec(TargetSpecBase):
        type: Literal["namedtarget"]
        name: str

    registry = fakes.registry({"namedtarget": Plugin(
        "namedtarget", "records its context", target_spec=NamedTargetSpec,
        create_target=lambda s, c: contexts.append(c) or fakes.MemoryTarget(s, c))})
    fakes.SOURCES["src"] = fakes.records(1)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    project = fakes.make_project(tmp_path, registry, [
        {"id": 1, "source": {"type": "memory", "name": "src"},
         "targets": [{"type": "namedtarget", "name": "tgt", "system": "eduarte"}]}],
        {"eduarte": {"url": "https://eduarte.test/api"}})
    engine = Engine(project, registry, "productie", state_url=f"sqlite:///{tmp_path / 't.db'}")
    try:
        engine.run_interface(1)
    finally:
        engine.close()
    [ctx] = contexts
    assert (ctx.system_name, ctx.environment, ctx.interface_id) == ("eduarte", "productie", 1)
    assert ctx.system is project.catalog.systems["eduarte"].environments["productie"]
    assert len(target.received) == 1


def test_lanes_without_targets_are_named_like_the_real_ones(make_engine):
    fakes.TARGETS["one"] = fakes.Behaviour()
    engine = make_engine([{"id": 1, "source": {"type": "memory", "name": "src"},
                           "targets": [{"type": "memtarget", "name": "one"}, {"type": "memtarget", "name": "one"}]}])
    interface = engine.project.interface(1)
    dry = engine.create_lanes(interface, targets=False)
    assert [(lane.name, lane.target) for lane in dry] == [("memtarget#0", None), ("memtarget#1", None)]
    real = engine.create_lanes(interface)
    assert [type(lane.target).__name__ for lane in real] == ["MemoryTarget", "MemoryTarget"]


def test_a_mapping_without_the_mapping_engine_installed_is_a_clear_configuration_error(make_engine, monkeypatch):
    import sys

    fakes.SOURCES["src"] = fakes.records(1)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface(mapping="studenten")])
    monkeypatch.setitem(sys.modules, "runtime.mapping", None)  # import fails as if not installed
    summary = engine.run_interface(1)
    assert (summary.outcome, summary.message) == (
        "error", "mapping 'studenten' cannot be loaded: the mapping engine is not installed")


def test_record_keys_that_are_not_text_are_keyed_as_text(make_engine):
    fakes.SOURCES["src"] = [Record(7, {"id": 7}), Record(8, {"id": 8})]  # type: ignore[arg-type]
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    engine.run_interface(1)
    assert [i.key.split(":")[0] for i in target.received] == ["7", "8"]
    assert engine.store.delivery(1, "memtarget", "7")["status"] == "delivered"


def test_a_progress_that_wants_a_total_from_a_source_that_cannot_count_gets_none(make_engine):
    fakes.SOURCES["src"] = fakes.records(3)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    progress = Progress()
    summary = engine.run_interface(1, progress=progress)
    assert summary.outcome == "ok" and progress.totals == [] and progress.counts[-1]["delivered"] == 3


# -- what the operator reads in the log ----------------------------------------------------------


def test_the_log_of_a_run_names_interface_run_and_outcome_with_its_counts(make_engine, caplog):
    import logging

    fakes.SOURCES["src"] = fakes.records(3)
    fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s1"})
    engine = make_engine([iface()])
    caplog.set_level(logging.INFO, logger="koppel.engine")
    summary = engine.run_interface(1, "cron")
    mine = [r for r in caplog.records if r.name == "koppel.engine"]
    started, finished = mine[0], mine[-1]
    assert (started.getMessage(), started.interface, started.run, started.trigger) == ("run started", 1, summary.run_id, "cron")
    assert (finished.getMessage(), finished.interface, finished.run, finished.outcome) == (
        "run finished", 1, summary.run_id, "partial")
    assert (finished.read, finished.delivered, finished.dead, finished.duration) == (3, 2, 1, summary.duration)


def test_the_log_of_a_failed_run_says_why_at_error_level(make_engine, monkeypatch, caplog):
    import logging

    fakes.SOURCES["src"] = fakes.records(3)
    fakes.TARGETS["tgt"] = fakes.Behaviour()

    def refuse(self, items):
        raise ConfigError("credentials refused (401)")

    monkeypatch.setattr(fakes.MemoryTarget, "write", refuse)
    engine = make_engine([iface()])
    caplog.set_level(logging.INFO, logger="koppel.engine")
    summary = engine.run_interface(1)
    [stopped] = [r for r in caplog.records if r.getMessage().startswith("run stopped")]
    assert (stopped.levelname, stopped.getMessage()) == ("ERROR", "run stopped: credentials refused (401)")
    assert (stopped.interface, stopped.run, stopped.error_class) == (1, summary.run_id, "configuration")


def test_the_log_of_a_crashed_run_carries_the_traceback(make_engine, monkeypatch, caplog):
    import logging

    fakes.SOURCES["src"] = fakes.records(3)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    monkeypatch.setattr(fakes.MemorySource, "read", lambda self, cursor: (_ for _ in ()).throw(KeyError("x")))
    engine = make_engine([iface()])
    caplog.set_level(logging.INFO, logger="koppel.engine")
    summary = engine.run_interface(1)
    [failed] = [r for r in caplog.records if r.getMessage().startswith("run failed")]
    assert (failed.levelname, failed.getMessage(), failed.interface, failed.run) == (
        "ERROR", "run failed: KeyError: 'x'", 1, summary.run_id)
    assert failed.exc_info and failed.exc_info[0] is KeyError


def test_the_log_says_when_a_lost_lease_stopped_a_run_and_another_daemon_closes_it(make_engine, monkeypatch, caplog):
    import logging

    fakes.SOURCES["src"] = fakes.records(4)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])

    def commit(*args, **kwargs):
        raise LeaseLost("lease interface:1 is held by other-host:9:9 now")

    monkeypatch.setattr(engine.store, "commit_batch", commit)
    monkeypatch.setattr(engine.store, "finish_run", lambda *a, **kw: False)
    caplog.set_level(logging.INFO, logger="koppel.engine")
    summary = engine.run_interface(1)
    lines = [(r.levelname, r.getMessage(), r.interface, r.run) for r in caplog.records if r.levelname == "WARNING"]
    assert lines == [
        ("WARNING", "run stopped: lease interface:1 is held by other-host:9:9 now", 1, summary.run_id),
        ("WARNING", "run not closed here: another daemon holds the interface now", 1, summary.run_id)]


def test_a_close_that_fails_is_logged_with_its_traceback(make_engine, monkeypatch, caplog):
    import logging

    fakes.SOURCES["src"] = fakes.records(1)
    fakes.TARGETS["tgt"] = fakes.Behaviour()

    def close(self):
        raise OSError("connection reset")

    monkeypatch.setattr(fakes.MemoryTarget, "close", close, raising=False)
    engine = make_engine([iface()])
    caplog.set_level(logging.INFO, logger="koppel.engine")
    engine.run_interface(1)
    [failed] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert failed.getMessage() == "close failed" and failed.exc_info and failed.exc_info[0] is OSError


# -- tracing: a span per batch, so a slow run can be followed ------------------------------------


def test_a_traced_run_has_a_span_per_batch_with_its_record_count(make_engine):
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from runtime.engine import tracing

    fakes.SOURCES["src"] = fakes.records(6)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([iface()])
    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter))
    try:
        summary = engine.run_interface(1, "cron")
    finally:
        tracing.uninstall()
    batches = [s for s in exporter.get_finished_spans() if s.name == "koppel.batch"]
    assert [s.attributes["koppel.records"] for s in batches] == [4, 2]
    [run] = [s for s in exporter.get_finished_spans() if s.name == "koppel.run"]
    assert dict(run.attributes) == {"koppel.interface": 1, "koppel.trigger": "cron", "koppel.run": summary.run_id}
    # the console finds the run's trace by its run id
    assert tracing.trace_of(engine.store, summary.run_id) == format(run.context.trace_id, "032x")


# -- the bulk path: a db → db load without mapping or ledger goes by rows ------------------------


def test_a_load_without_mapping_or_ledger_takes_the_bulk_path_and_lands_every_row(tmp_path, monkeypatch):
    import sqlite3

    import engine_bulk

    from runtime.engine import bulk

    monkeypatch.setenv("KOPPEL_BULK", "1")
    taken: list = []
    run = bulk.BulkRead.run
    monkeypatch.setattr(bulk.BulkRead, "run", lambda self: taken.append(self.source_name) or run(self))
    source = tmp_path / "sis.db"
    engine_bulk.make_source(source, 120)
    target = tmp_path / "dl.db"
    engine = engine_bulk.engine(tmp_path, source, f"sqlite:///{target}", f"sqlite:///{tmp_path / 'state.db'}", None)
    try:
        summary = engine.run_interface(0, trigger="outbox")
    finally:
        engine.close()
    assert summary.outcome == "ok" and taken == ["db"]
    db = sqlite3.connect(target)
    try:
        assert db.execute("SELECT count(*) FROM enrollment").fetchone() == (120,)
        assert db.execute("SELECT count(*) FROM membership").fetchone() == (12,)
    finally:
        db.close()


# -- the state at rest: sealed with the keys the catalog names for the engine's environment -----


@pytest.mark.parametrize("environment", ["sandbox", "acceptatie"])
def test_an_engine_seals_what_it_stores_with_its_environment_s_keys(tmp_path, reg, environment):
    from runtime.engine.state import crypto
    from runtime.engine.state.crypto import new_key_text
    from tests.state.state_helpers import scan, with_keys

    bsn = "111222333"  # passes the elfproef
    key = tmp_path / "state-key-k1"
    key.write_text(new_key_text() + "\n")
    project = with_keys(fakes.make_project(tmp_path, reg, [iface()]), {"k1": key}, "k1")
    # the keys are the sandbox's: an acceptatie engine has none for its own environment
    url = f"sqlite:///{tmp_path / 'sealed.db'}"
    fakes.SOURCES["src"] = [Record("s1", {"id": "s1", "bsn": bsn})]
    fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s1"})
    engine = Engine(project, reg, environment, state_url=url)
    try:
        engine.run_interface(1)
        [letter] = engine.store.dead_letters(interface_id=1)
        assert letter["record"]["data"]["bsn"] == bsn  # read back whole
        assert (scan(url, [bsn]) == []) is (environment == "sandbox")
    finally:
        engine.close()
        crypto.configure(None)  # the keyring is per process: leave none to the next test
