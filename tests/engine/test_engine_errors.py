"""The error taxonomy in the pipeline: transient (backoff, Retry-After), record (dead letter at
once, replay through the current mapping), configuration (the run stops, the cursor stays)."""

from __future__ import annotations

import random

import engine_fakes as fakes
import pytest

from runtime.engine.deadletters import DeadLetters
from runtime.engine.retry import Backoff
from runtime.errors import ConfigError, MappingError, TransientError


def test_backoff_is_exponential_bounded_jittered_and_honours_retry_after():
    b = Backoff(max_attempts=8, initial_delay=1, max_delay=30, multiplier=2, jitter=False)
    assert [b.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert b.delay(1, TransientError("429", retry_after=12)) == 12
    assert b.delay(1, TransientError("429", retry_after=999)) == 30  # capped at max_delay
    jittered = Backoff(initial_delay=8, jitter=True)
    rng = random.Random(1)
    values = [jittered.delay(1, rng=rng) for _ in range(200)]
    assert min(values) >= 4 and max(values) <= 8 and len(set(values)) > 100


def _iface(**extra):
    return {"id": 7, "source": {"type": "memory", "name": "src"}, "targets": [{"type": "memtarget", "name": "tgt"}],
            "delivery": {"batch_size": 10, "retries": {"max_attempts": 3, "initial_delay": 0.001, "max_delay": 0.001}},
            **extra}


def test_configuration_error_stops_the_run_and_keeps_the_cursor(make_engine):
    fakes.SOURCES["src"] = fakes.records(30)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface()])
    original = fakes.MemoryTarget.write
    calls = []

    def broken(self, items):
        calls.append(len(items))
        if len(calls) == 2:
            raise ConfigError("peer answered 401: check the credentials of system 'peer'")
        return original(self, items)

    fakes.MemoryTarget.write = broken
    try:
        summary = engine.run_interface(7)
    finally:
        fakes.MemoryTarget.write = original
    assert summary.outcome == "error" and "401" in summary.message
    assert summary.delivered == 10
    assert engine.store.cursor(7, "memory") == "10"  # the first batch only
    assert engine.store.list_runs(7)[0]["outcome"] == "error"


def test_mapping_failure_is_a_dead_letter_and_replay_uses_the_current_mapping(make_engine):
    fakes.SOURCES["src"] = fakes.records(10)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface(mapping="studenten")])

    def old_mapping(record):
        if record["n"] in (2, 5):
            raise MappingError("unknown code in 'name'", path="name")
        return {"nummer": record["id"]}

    def new_mapping(record):
        return {"nummer": record["id"], "fixed": True}

    old_mapping.version = "1"
    new_mapping.version = "2"
    engine._mappings["studenten"] = old_mapping
    summary = engine.run_interface(7)
    assert (summary.delivered, summary.dead) == (8, 2)
    letters = engine.store.dead_letters(interface_id=7)
    assert {(d["stage"], d["error_class"], d["source_key"]) for d in letters} == {("mapping", "record", "s2"), ("mapping", "record", "s5")}
    assert letters[0]["record"]["data"]["n"] == 2  # the source record as read
    assert engine.store.delivery(7, "memtarget", "s0")["mapping_version"] == "studenten@1"

    engine._mappings["studenten"] = new_mapping
    results = DeadLetters(engine).replay(interface_id=7)
    assert [r.status for r in results] == ["delivered", "delivered"]
    assert [i.payload for i in target.received[-2:]] == [{"nummer": "s2", "fixed": True}, {"nummer": "s5", "fixed": True}]
    assert engine.store.delivery(7, "memtarget", "s5")["mapping_version"] == "studenten@2"


def test_replay_of_an_old_change_does_not_undo_a_newer_one(make_engine):
    fakes.SOURCES["src"] = fakes.records(3)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s1"})
    engine = make_engine([_iface()])
    engine.run_interface(7)
    target.reject.clear()
    fakes.SOURCES["src"].append(fakes.Record(key="s1", data={"id": "s1", "n": 1, "name": "Newer"}))
    engine.run_interface(7)  # the newer change of s1 is delivered
    results = DeadLetters(engine).replay(interface_id=7)
    assert [r.status for r in results] == ["superseded"]
    assert [i.payload["name"] for i in target.received if i.source_key == "s1"] == ["Newer"]
    forced = engine.store.dead_letters(interface_id=7, status="superseded")
    assert len(forced) == 1


def test_discard_closes_without_sending(make_engine):
    fakes.SOURCES["src"] = fakes.records(3)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s0"})
    engine = make_engine([_iface()])
    engine.run_interface(7)
    dl = DeadLetters(engine)
    [letter] = dl.list(interface_id=7)
    assert dl.discard([letter["id"]], "duplicate in the source") == 1
    assert dl.list(interface_id=7) == [] and dl.list(interface_id=7, status="discarded")[0]["resolution"] == "duplicate in the source"
    assert len(target.received) == 2


def test_a_planned_interface_cannot_run(make_engine):
    engine = make_engine([_iface(status="planned")])
    with pytest.raises(ConfigError, match="planned"):
        engine.run_interface(7)
