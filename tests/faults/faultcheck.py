"""The property every fault test checks, and the source data it is checked against."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from runtime.plugin import Record
from tests.scale import scaled

# 3 examples per plugin in CI, 50 at full scale (KOPPEL_TEST_SCALE=full); KOPPEL_FAULT_EXAMPLES wins
EXAMPLES = scaled(3, 50, env="KOPPEL_FAULT_EXAMPLES")

FAULTS = settings(
    max_examples=EXAMPLES, deadline=None, derandomize="KOPPEL_FAULT_SEED" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    print_blob=True, phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking a run of
    # several hundred records through a server takes minutes: the failing example is printed as it is
)
#: for the plugins whose calls are slow (SSH sessions, signed SOAP): a third of the examples
FAULTS_SLOW = settings(FAULTS, max_examples=max(1, EXAMPLES // 3))


class Stream:
    """What the source holds: records in source order, some keys changed again later on."""

    def __init__(self, records: list[Record], reject: set[str]) -> None:
        self.records, self.reject = records, reject

    def __repr__(self) -> str:  # hypothesis prints a failing example: the shape, not 400 records
        changed = len(self.records) - len(self.latest())
        return f"Stream({len(self.latest())} keys, {changed} changed again, reject={sorted(self.reject)})"

    def latest(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for record in self.records:
            out[record.key] = record.data
        return out


@st.composite
def streams(draw, *, min_size: int = 200, max_size: int = 400) -> Stream:
    """Several hundred records; up to a fifth of the keys change again later in the stream; a few
    keys the target refuses (their own problem: class ``record``)."""
    n = draw(st.integers(min_size, max_size))
    again = draw(st.sets(st.integers(0, n - 1), max_size=n // 5))
    keys = [f"S{100000 + i}" for i in range(n)]
    records = [Record(key=k, data={"id": k, "version": 1, "name": f"Student {i}"}, object="student")
               for i, k in enumerate(keys)]
    for i in sorted(again):
        k = keys[i]
        records.append(Record(key=k, data={"id": k, "version": 2, "name": f"Student {i} (changed)"},
                              object="student"))
    reject = {keys[i] for i in draw(st.sets(st.integers(0, n - 1), max_size=3))}
    return Stream(records, reject)


def schedules(kinds: tuple[str, ...], *, max_rate: float = 0.5):
    """A fault schedule: a rate of 10-50% of the requests, a non-empty subset of ``kinds``, a seed."""
    return st.tuples(st.floats(0.1, max_rate), st.lists(st.sampled_from(kinds), min_size=1, unique=True),
                     st.integers(0, 2**16))


def check_outcome(stream: Stream, arrived: dict[str, dict], accepted: set[str], letters: list[dict]) -> None:
    """Every record delivered with its latest content or a dead letter of class ``record`` that
    names it; no record the target accepted is dead."""
    latest = stream.latest()
    dead = {d["source_key"]: d for d in letters}
    for key, data in latest.items():
        if key in stream.reject:
            assert key in dead, f"{key} was refused but is not a dead letter"
            continue
        assert key not in dead, f"{key} is a dead letter ({dead[key]['error_class']}: {dead[key]['reason']})"
        assert arrived.get(key) == data, f"{key}: the target holds {arrived.get(key)}, the source {data}"
    for key, letter in dead.items():
        assert letter["error_class"] == "record", letter
        assert key in letter["reason"], f"the reason of {key}'s dead letter names another record: {letter['reason']}"
        assert key not in accepted, f"{key} was accepted by the target yet is a dead letter"
    assert set(dead) == stream.reject & set(latest)


def run_until_done(engine, interface_id: int, runs: int = 20):
    """Run as the daemon's ticks would: a run that could not connect at all (the target's
    ``open``) ends as ``error``; the next one goes on from the cursor."""
    for _ in range(runs):
        summary = engine.run_interface(interface_id)
        if summary.outcome != "error":
            return summary
    raise AssertionError(f"still failing after {runs} runs: {summary.message}")


RETRIES = {"max_attempts": 40, "initial_delay": 0.01, "max_delay": 0.05}


def rest_engine(root, url: str, records: list, *, batch: int | None = None, retries: dict | None = None,
                timeout: float = 0.15):
    """An engine running interface 24 as the college has it (records → the rest plugin, one PUT
    per record, or ``batch`` records per POST) against the HTTP API at ``url``."""
    import engine_fakes as fakes

    from plugins.rest import plugin as rest
    from runtime.engine import Engine

    fakes.SOURCES["faults"] = records
    reg = fakes.registry({"rest": rest})
    target = {"type": "rest", "system": "store", "method": "PUT", "path": "records/{id}", "reference": "id"}
    if batch:
        target = {"type": "rest", "system": "store", "method": "POST", "path": "records", "batch": batch}
    project = fakes.make_project(root, reg, [{
        "id": 24, "source": {"type": "memory", "name": "faults"}, "targets": [target],
        "delivery": {"batch_size": 250, "retries": retries or RETRIES}}],
        systems={"store": {"url": url, "timeout": timeout, "options": {"retry_after_max_wait": 0.5}}})
    return Engine(project, reg, state_url=f"sqlite:///{root / 'state.db'}")


PATIENT = {"max_attempts": 60, "initial_delay": 0.01, "max_delay": 0.05}


def deliver_through(root, plugins: dict, target: dict, stream: Stream, *, interface_id: int,
                    systems: dict | None = None, objects: list[str] | None = None):
    """Run ``stream`` through ``target`` (a target spec of one of ``plugins``) as an interface
    would, run after run until one completes (see ``run_until_done``); (summary, dead letters)."""
    import engine_fakes as fakes

    from runtime.engine import Engine
    from runtime.engine.deadletters import DeadLetters

    fakes.SOURCES["faults"] = stream.records
    reg = fakes.registry(plugins)
    definition = {"id": interface_id, "source": {"type": "memory", "name": "faults"}, "targets": [target],
                  "delivery": {"batch_size": 100, "retries": PATIENT}}
    if objects:
        definition["objects"] = objects
    engine = Engine(fakes.make_project(root, reg, [definition], systems=systems), reg,
                    state_url=f"sqlite:///{root / 'state.db'}")
    try:
        return run_until_done(engine, interface_id), DeadLetters(engine).list(limit=10_000)
    finally:
        engine.close()
