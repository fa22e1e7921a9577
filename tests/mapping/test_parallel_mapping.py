"""A mapping with ``parallel: true`` maps a batch on every core: same outputs, same order, same errors."""

from __future__ import annotations

import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.errors import ContractError, MappingError
from runtime.mapping import compile_mapping

MAPPING = {
    "name": "t", "where": "skip != `true`",
    "output": {"id": {"expr": "id", "required": True}, "twice": "id_twice"},
    "contract": {"json_schema": {"type": "object", "properties": {"id": {"type": "string", "maxLength": 3}}}},
}


def both():
    serial = compile_mapping(MAPPING, None)
    parallel = compile_mapping({**MAPPING, "parallel": True}, None)
    assert parallel.parallel and not serial.parallel
    return serial, parallel


def shape(results):
    return [(out, type(exc).__name__ if exc else None) for out, exc in results]


record = st.fixed_dictionaries({}, optional={
    "id": st.one_of(st.none(), st.text(max_size=5)), "id_twice": st.integers(), "skip": st.booleans()})


@settings(max_examples=60, deadline=None)
@given(st.lists(record, max_size=30))
def test_parallel_and_serial_agree_record_by_record(records):
    serial, parallel = both()
    assert shape(parallel.map_many(records)) == shape(serial.map_many(records))


def test_errors_stay_with_their_record():
    _, parallel = both()
    results = parallel.map_many([{"id": "a"}, {"id": None}, {"id": "toolong"}, {"skip": True}, {"id": "b"}])
    assert [out for out, _ in results] == [{"id": "a", "twice": None}, None, None, None, {"id": "b", "twice": None}]
    assert [type(exc) for _, exc in results] == [type(None), MappingError, ContractError, type(None), type(None)]


def test_a_batch_runs_on_several_threads(monkeypatch):
    monkeypatch.setenv("KOPPEL_MAPPING_THREADS", "2")
    import runtime.mapping as mapping_module

    monkeypatch.setattr(mapping_module, "_shared_pool", [])
    _, parallel = both()
    threads: set[int] = set()
    barrier = threading.Barrier(2, timeout=5)

    def fast(record):  # passes the barrier only when two records are mapped at the same time
        threads.add(threading.get_ident())
        barrier.wait()
        return {"id": record["id"]}

    parallel._fast = fast
    results = parallel.map_many([{"id": str(n)} for n in range(6)])
    assert [out["id"] for out, _ in results] == [str(n) for n in range(6)]
    assert len(threads) == 2
