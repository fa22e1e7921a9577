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


def test_a_lease_is_taken_over_by_expiry_not_by_guessing_from_host_and_pid(make_engine):
    """Another process namespace may run a live daemon under this hostname with any pid: only
    the lease's expiry says its holder is gone."""
    import socket
    import time

    engine = make_engine([])
    store = engine.store
    twin = f"{socket.gethostname()}:999999:0123456789ab:1"  # this host, a pid that is not running here
    assert store.acquire_lease("interface:5", twin, 3.0)
    assert not store.acquire_lease("interface:5", "other:1:cafebabe0000:1", 60)
    assert store.leases("interface:")["interface:5"]["alive"] is True
    time.sleep(3.1)
    assert store.leases("interface:")["interface:5"]["alive"] is False
    assert store.acquire_lease("interface:5", "other:1:cafebabe0000:1", 60)


def test_every_process_has_its_own_random_lease_identity():
    import multiprocessing

    from runtime.engine.lease import process_id

    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        child = pool.apply(process_id)
    assert child != process_id() and len(child.rsplit(":", 1)[1]) == 12


def _scheduled(make_engine, trigger):
    fakes.SOURCES["src"] = fakes.records(7)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([{"id": 5, "trigger": trigger, "source": {"type": "memory", "name": "src"},
                           "targets": [{"type": "memtarget", "name": "tgt"}],
                           "delivery": {"batch_size": 2, "skip_unchanged": False}}])
    return engine, target


def test_a_killed_scheduled_run_is_resumed_by_a_survivor_from_its_cursor(make_engine):
    import time

    from runtime.engine.resume import ResumeSweep
    from runtime.engine.scheduler import Scheduler

    engine, target = _scheduled(make_engine, {"type": "cron", "cron": "0 2 * * *"})
    store = engine.store
    dead = "elsewhere:42:deadbeef0000:7"  # a daemon that was killed after two batches
    run_id = store.start_run(5, "cron", run_key="5@2026-12-01T02:00:00", holder=dead)
    store.set_cursor(5, "memory", "4", run_id)
    assert store.acquire_lease("interface:5", dead, 3.0)
    scheduler = Scheduler(engine)
    scheduler.add_interfaces()
    sweep = ResumeSweep(engine, scheduler, threading.Event())
    assert sweep.sweep() == []  # its lease is still alive: it may still be working
    time.sleep(3.1)
    assert sweep.sweep() == [run_id]
    runs = {r["id"]: r for r in store.list_runs(5)}
    assert runs[run_id]["outcome"] == "crashed"
    resumed = [r for r in runs.values() if r["trigger"] == "resume"]
    assert [(r["run_key"], r["outcome"], r["read"]) for r in resumed] == [
        (f"5@2026-12-01T02:00:00~resume{run_id}", "ok", 3)]
    assert [i.source_key for i in target.received] == ["s4", "s5", "s6"]  # the rest, from the cursor
    assert sweep.sweep() == []  # resumed once


def test_a_dead_run_of_an_unscheduled_interface_is_closed_not_resumed(make_engine):
    import time

    from runtime.engine.resume import ResumeSweep
    from runtime.engine.scheduler import Scheduler

    engine, target = _scheduled(make_engine, {"type": "manual"})
    store = engine.store
    mine = engine.store.start_run(5, "manual", holder="alive:1:aaaaaaaaaaaa:1")
    assert store.acquire_lease("interface:5", "alive:1:aaaaaaaaaaaa:1", 60)
    gone = store.start_run(5, "manual", holder="gone:2:bbbbbbbbbbbb:1")
    time.sleep(0.01)
    sweep = ResumeSweep(engine, Scheduler(engine), threading.Event())
    assert sweep.sweep() == []
    outcomes = {r["id"]: r["outcome"] for r in store.list_runs(5)}
    assert outcomes == {mine: "running", gone: "running"}  # another run holds the lease: it closes them
    store.release_lease("interface:5", "alive:1:aaaaaaaaaaaa:1")
    sweep.sweep()
    outcomes = {r["id"]: r["outcome"] for r in store.list_runs(5)}
    assert outcomes == {mine: "crashed", gone: "crashed"} and target.received == []
