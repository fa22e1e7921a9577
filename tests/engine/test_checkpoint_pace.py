"""A step closes after ``commit_every`` records or ``commit_interval`` seconds, and the writes are
sized to that (runtime/engine/checkpoint.py, issue 15): a crash re-sends at most one step, which
for a slow target is about one interval of its work, not ``commit_every`` records of it.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from runtime.engine import checkpoint as checkpoint_module
from runtime.engine import lane as lane_module
from runtime.engine.checkpoint import FIRST_WRITE, Checkpoint
from runtime.engine.lane import TargetLane
from runtime.engine.retry import Sleeper
from runtime.models.interface import DeliveryPolicy
from runtime.plugin import Batch, Outcome, Record, Target


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    fake = SimpleNamespace(monotonic=c.monotonic)
    monkeypatch.setattr(checkpoint_module, "time", fake)
    monkeypatch.setattr(lane_module, "time", fake)
    return c


class Peer(Target):
    """Takes ``seconds`` per item (on the fake clock)."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self.clock, self.seconds = clock, seconds
        self.writes: list[int] = []

    def write(self, items):
        self.writes.append(len(items))
        self.clock.now += self.seconds * len(items)
        return [Outcome() for _ in items]


def deliver(peer: Peer, batches: int, size: int, every: int, interval: float) -> list[tuple[int, float]]:
    """Run ``batches`` batches through one lane; the (records, seconds) of every step."""
    lane = TargetLane(name="peer", target=peer, spec=None, mapping=None, mapping_version=None,
                      key_of=lambda r: str(r.key), policy=DeliveryPolicy(ledger=False),
                      ledger_lookup=lambda keys: {}, sleeper=Sleeper())
    steps: list[tuple[int, float]] = []
    for b in range(batches):
        counts = dict.fromkeys(("read", "mapped", "filtered", "skipped", "delivered", "failed", "dead"), 0)
        since = {"at": peer.clock.now, "delivered": 0}

        def commit(result, cursor, move, counts=counts, since=since):
            steps.append((counts["delivered"] - since["delivered"], peer.clock.now - since["at"]))
            since.update(at=peer.clock.now, delivered=counts["delivered"])

        records = [Record(key=f"b{b}r{i}", data={"i": i}) for i in range(size)]
        cp = Checkpoint(batch=Batch(records, cursor=str(b)), lanes=1, counts=counts, commit=commit,
                        write_back=lambda lane, delivered: [], ledger=False, every=every, interval=interval)
        lane.process(records, counts, checkpoint=cp)
        cp.step(final=True, complete=True)
        assert counts["delivered"] == size
    return [s for s in steps if s[0]]


def test_a_slow_target_gets_steps_of_about_one_interval_of_its_work(clock):
    peer = Peer(clock, seconds=0.1)  # a REST peer at 100 ms a record
    steps = deliver(peer, batches=2, size=200, every=1000, interval=1.0)
    assert peer.writes[0] == FIRST_WRITE  # before its pace is known
    assert max(peer.writes[1:]) <= 10  # then no more than fits in a second
    assert steps[0] == (FIRST_WRITE, pytest.approx(FIRST_WRITE * 0.1))  # the interval passed: a step
    assert all(seconds <= 1.0 + 1e-9 for _, seconds in steps[1:])  # then a step a second
    assert max(records for records, _ in steps) <= FIRST_WRITE


def test_a_fast_target_gets_steps_of_commit_every_records(clock):
    peer = Peer(clock, seconds=0.0001)  # a db upsert: 0.1 ms a record
    steps = deliver(peer, batches=3, size=1000, every=500, interval=1.0)
    assert peer.writes == [FIRST_WRITE, 500 - FIRST_WRITE, 500, 500, 500, 500, 500]
    assert [records for records, _ in steps] == [500] * 6


def test_the_pace_is_kept_from_batch_to_batch_so_only_the_first_write_is_small(clock):
    peer = Peer(clock, seconds=0.0001)
    deliver(peer, batches=4, size=300, every=1000, interval=1.0)
    assert peer.writes == [FIRST_WRITE, 300 - FIRST_WRITE, 300, 300, 300]


def test_a_step_never_holds_more_than_commit_every_records_however_fast_the_target(clock):
    peer = Peer(clock, seconds=0.0)
    steps = deliver(peer, batches=1, size=250, every=60, interval=1.0)
    assert max(peer.writes) <= 60
    assert [records for records, _ in steps] == [60, 60, 60, 60, 10]
