"""A run whose lease was taken over under it records nothing more (issue 18: zombie runs).

Under load a heartbeat can miss the lease's TTL; the survivor that took the interface over then
resumes it. The stalled run must not record a step or close the run beside it: every step and
the run's closing are fenced by the lease in the same transaction (StateStore.fenced)."""

from __future__ import annotations

from sqlalchemy import update

import engine_fakes as fakes
from runtime.engine.state import models as m


def _iface() -> dict:
    return {"id": 7, "source": {"type": "memory", "name": "src"}, "targets": [{"type": "memtarget", "name": "tgt"}],
            "delivery": {"batch_size": 20, "commit_every": 5}}


def test_a_run_whose_lease_was_taken_over_records_nothing_more(make_engine) -> None:
    fakes.SOURCES["src"] = fakes.records(40)
    engine = make_engine([_iface()])
    behaviour = fakes.TARGETS["tgt"] = fakes.Behaviour()
    store = engine.store
    original = fakes.MemoryTarget.write

    def write_then_lose_the_lease(self, items):
        out = original(self, items)
        if self.b.calls == 2:  # a survivor takes the interface over while this run is in flight
            with store.engine.begin() as c:
                c.execute(update(m.leases).where(m.leases.c.name == "interface:7").values(holder="survivor"))
                c.execute(update(m.runs).where(m.runs.c.outcome == "running").values(outcome="crashed"))
        return out

    fakes.MemoryTarget.write = write_then_lose_the_lease
    try:
        summary = engine.run_interface(7)
    finally:
        fakes.MemoryTarget.write = original
    assert summary.outcome == "stopped" and "held by another daemon" in (summary.message or "")
    recorded = store.ledger(7, "memtarget", [r.key for r in fakes.records(40)])
    assert len(recorded) == 5  # the first step only; nothing after the takeover
    run = store.list_runs(7, 1)[0]
    assert run["outcome"] == "crashed"  # closed by the survivor, not overwritten by the stalled run
    assert behaviour.calls >= 2


def test_a_run_that_keeps_its_lease_records_every_step(make_engine) -> None:
    fakes.SOURCES["src"] = fakes.records(40)
    engine = make_engine([_iface()])
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    summary = engine.run_interface(7)
    assert summary.outcome == "ok" and summary.delivered == 40
    assert len(engine.store.ledger(7, "memtarget", [r.key for r in fakes.records(40)])) == 40
    assert engine.store.list_runs(7, 1)[0]["outcome"] == "ok"
