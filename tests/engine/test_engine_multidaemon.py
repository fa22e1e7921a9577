"""Several daemons on one PostgreSQL: a run never overlaps itself, a tick is claimed once."""

from __future__ import annotations

import threading

import engine_fakes as fakes
import pytest

from runtime.engine import Engine


@pytest.mark.postgres
def test_two_daemons_on_postgresql_never_run_one_interface_together(tmp_path, pg_url, reg):
    fakes.SOURCES["src"] = fakes.records(2000)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    project = fakes.make_project(tmp_path, reg, [{"id": 5, "source": {"type": "memory", "name": "src"},
                                                  "targets": [{"type": "memtarget", "name": "tgt"}],
                                                  "delivery": {"batch_size": 100, "skip_unchanged": False}}])
    engines = [Engine(project, reg, state_url=pg_url) for _ in range(4)]
    results = []
    barrier = threading.Barrier(len(engines))

    def daemon(engine, tick):
        barrier.wait()
        results.append(engine.run_interface(5, "cron", run_key=f"5@{tick}"))

    try:
        for tick in ("2026-11-28T02:00:00", "2026-11-29T02:00:00"):
            threads = [threading.Thread(target=daemon, args=(e, tick)) for e in engines]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            engines[0].store.set_cursor(5, "memory", None)  # the next tick reads everything again
    finally:
        for e in engines:
            e.close()
    ran = [r for r in results if r.outcome == "ok"]
    assert len(ran) == 2 and all(r.delivered == 2000 for r in ran)
    assert sum(r.outcome == "skipped" for r in results) == 6
    assert target.duplicates == 2000  # the second tick sent everything once more, as asked
    assert len(target.received) == 4000
