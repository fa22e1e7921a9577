"""Over real HTTP with the real rest plugin: a flaky target, a picky target, replay."""

from __future__ import annotations

import engine_fakes as fakes
import engine_http
import pytest

from runtime.engine.deadletters import DeadLetters

pytest.importorskip("plugins.rest.target", reason="the rest plugin is not in this tree yet")


@pytest.fixture
def http_target():
    state = engine_http.TargetState()
    server, url = engine_http.start_server(state)
    yield state, url
    server.shutdown()


@pytest.fixture
def rest_engine(make_engine, http_target):
    import plugins.rest

    state, url = http_target
    reg = fakes.registry({"rest": plugins.rest.plugin})

    def make(**delivery):
        policy = {"batch_size": 100, "retries": {"max_attempts": 40, "initial_delay": 0.001, "max_delay": 0.005}}
        policy.update(delivery)
        return make_engine([{"id": 24, "source": {"type": "memory", "name": "src"},
                             "targets": [{"type": "rest", "system": "peer", "path": "/items", "reference": "ref"}],
                             "delivery": policy}],
                           registry=reg, systems={"peer": {"url": url, "auth": {"type": "none"}}})

    return make


def test_flaky_target_every_record_delivered_retries_recorded(rest_engine, http_target):
    state, _ = http_target
    state.transient_fraction = 0.25
    fakes.SOURCES["src"] = fakes.records(300)
    engine = rest_engine()
    summary = engine.run_interface(24)
    assert summary.outcome == "ok" and summary.delivered == 300 and summary.dead == 0
    assert summary.failed > 0 and state.failed_requests > 0
    assert set(state.source_keys) == {f"s{i}" for i in range(300)}
    assert set(state.source_keys.values()) == {1}
    # every 503 is one failed attempt, recorded; every record was sent until it was taken once
    assert state.failed_requests == summary.failed and state.requests == 300 + summary.failed
    assert state.duplicates == 0
    assert sum(engine.store.delivery(24, "peer", f"s{i}")["attempts"] for i in range(300)) == 300 + summary.failed
    # what arrived is the record, and the reference kept is the one the peer answered for it
    for source_key in ("s0", "s7", "s299"):
        key, item = next((k, it) for k, it in state.applied.items() if it["source_key"] == source_key)
        assert item["payload"] == next(r.data for r in fakes.SOURCES["src"] if r.key == source_key)
        row = engine.store.delivery(24, "peer", source_key)
        assert row["status"] == "delivered" and row["reference"] == f"MSG-{key}"


def test_rejected_records_are_dead_letters_and_replay_delivers_them(rest_engine, http_target):
    state, _ = http_target
    state.reject = {"s5", "s50", "s99"}
    fakes.SOURCES["src"] = fakes.records(120)
    engine = rest_engine()
    summary = engine.run_interface(24)
    assert (summary.outcome, summary.delivered, summary.dead) == ("partial", 117, 3)
    dl = DeadLetters(engine)
    assert sorted(d["source_key"] for d in dl.list(interface_id=24, error_class="record")) == ["s5", "s50", "s99"]
    # still rejected: the letters stay open, with one more attempt
    assert {r.status for r in dl.replay(interface_id=24)} == {"failed"}
    assert len(dl.list(interface_id=24)) == 3
    state.reject.clear()
    assert {r.status for r in dl.replay(interface_id=24)} == {"delivered"}
    assert dl.list(interface_id=24) == []
    assert {k for k in ("s5", "s50", "s99") if state.source_keys.get(k) == 1} == {"s5", "s50", "s99"}
    assert [r["trigger"] for r in engine.store.list_runs(24)][:2] == ["replay", "replay"]
