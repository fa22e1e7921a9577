"""How many state transactions a batch costs (issue 15 goal 4), and that none of its outcomes is
left out of them: a batch delivered in one step whose records have no cursors of their own is
recorded in one transaction (its rows, counts and cursor), not a step and then the final step."""

from __future__ import annotations

import engine_fakes as fakes
import pytest


def iface(**delivery) -> dict:
    policy = {"batch_size": 4, "commit_every": 4,
              "retries": {"max_attempts": 2, "initial_delay": 0.001, "max_delay": 0.001}, **delivery}
    return {"id": 1, "source": {"type": "memory", "name": "src"},
            "targets": [{"type": "memtarget", "name": "tgt"}], "delivery": policy}


@pytest.fixture
def commits(make_engine, monkeypatch):
    """``(engine, calls)``: every commit_batch as (delivered keys, dead keys, cursor, move_cursor)."""
    calls: list[tuple] = []

    def make(**delivery):
        engine = make_engine([iface(**delivery)])
        commit_batch = engine.store.commit_batch

        def commit(iid, run_id, result, **kwargs):
            calls.append(([d.source_key for d in result.deliveries], [d.source_key for d in result.dead],
                          kwargs.get("cursor"), kwargs.get("move_cursor")))
            return commit_batch(iid, run_id, result, **kwargs)

        monkeypatch.setattr(engine.store, "commit_batch", commit)
        return engine

    return make, calls


def test_a_batch_sent_in_one_step_is_recorded_in_one_transaction(commits):
    make, calls = commits
    fakes.SOURCES["src"] = fakes.records(8)
    fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s5"})
    engine = make()
    summary = engine.run_interface(1)
    assert (summary.delivered, summary.dead, summary.read) == (7, 1, 8)
    assert calls == [(["s0", "s1", "s2", "s3"], [], "4", True),
                     (["s4", "s5", "s6", "s7"], ["s5"], "8", True)]
    for key in ("s0", "s3", "s7"):
        assert engine.store.delivery(1, "memtarget", key)["status"] == "delivered"
    assert engine.store.delivery(1, "memtarget", "s5")["status"] == "dead"
    assert engine.store.run(summary.run_id)["delivered"] == 7


def test_a_step_before_the_end_of_the_batch_is_still_made(commits):
    make, calls = commits
    fakes.SOURCES["src"] = fakes.records(4)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make(commit_every=2)
    engine.run_interface(1)
    # the lane's first write holds two (a step), the rest goes with the batch's final step
    assert calls == [(["s0", "s1"], [], None, False), (["s2", "s3"], [], "4", True)]
