"""The rest plugin through the engine against an HTTP API that fails requests at random."""

from __future__ import annotations

from faultcheck import FAULTS, check_outcome, rest_engine, schedules, streams
from hypothesis import given
from hypothesis import strategies as st
from proxy import Faults, FaultyStore

from runtime.engine.deadletters import DeadLetters


def _run(root, store: FaultyStore, stream, **kw) -> None:
    engine = rest_engine(root, store.url, stream.records, **kw)
    try:
        summary = engine.run_interface(24)
        letters = DeadLetters(engine).list(limit=10_000)
    finally:
        engine.close()
    check_outcome(stream, store.latest(), set(store.applied), letters)
    assert summary.outcome == ("partial" if stream.reject else "ok"), summary
    assert summary.dead == sum(r.key in stream.reject for r in stream.records)


@FAULTS
@given(stream=streams(max_size=300), schedule=schedules(("503", "429", "reset", "timeout", "slow")))
def test_one_call_per_record_every_record_ends_delivered_or_dead_of_its_own(workdir, stream, schedule) -> None:
    rate, kinds, seed = schedule
    if "timeout" in kinds:  # each timeout holds the sender for the client's timeout: keep it fast
        rate = min(rate, 0.15)
    with FaultyStore(Faults(rate, kinds, seed, timeout_delay=0.25), reject=stream.reject) as store:
        _run(workdir(), store, stream)
        assert sum(store.injected.values()) > 0


@FAULTS
@given(stream=streams(), schedule=schedules(("503", "reset"), max_rate=0.5), size=st.sampled_from([10, 50]))
def test_arrays_fail_and_retry_as_a_whole_yet_each_record_has_its_own_outcome(workdir, stream, schedule,
                                                                               size) -> None:
    rate, kinds, seed = schedule
    with FaultyStore(Faults(rate, kinds, seed), reject=stream.reject) as store:
        _run(workdir(), store, stream, batch=size)
