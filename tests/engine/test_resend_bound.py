"""What a crash sends again, through the real engine and a real state database, under fault
schedules drawn at random (runtime/engine/checkpoint.py, "How many records a crash can re-send").

A peer answers each send of a record by its own schedule: applied and answered (``ok``), applied
with the answer lost (``lost``: a timeout after the peer did the work), refused before anything
was applied with a transient error (``busy``), or refused for good (``refuse``). The process is
killed after the peer handled its K-th write, before the engine heard the answer; a second
engine then runs the interface again on the same state database, as a restart does.

The promise checked, per lane: of the records whose fate the first process had settled
(delivered, refused, or out of attempts), those no step had recorded are sent again, and there
are at most ``commit_every`` of them; no record a step recorded as delivered reaches the peer
again. Two kinds of record are sent again without counting against the bound, because the
restart does for them what the engine does without a crash:

- a record still waiting for its retry at the kill: that send is the retry it was owed (same
  idempotency key, same payload);
- a record a step recorded as a dead letter whose batch had no cursor stored past it: it is read
  again, and a record read again is tried again unless the ledger has it *delivered* with this
  payload, as in any later run that reads it (lane.py).

Nothing is lost: after the restart every record is delivered or a dead letter.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import engine_fakes as fakes
from hypothesis import example, given, settings
from hypothesis import strategies as st

from runtime.engine import Engine
from runtime.errors import RecordError, TransientError
from runtime.models.interface import TargetSpecBase
from runtime.plugin import Item, Outcome, Plugin, Record, Target
from tests.scale import scaled

KINDS = ("ok", "lost", "busy", "refuse")


class Killed(BaseException):
    """The process dies: not an Exception, so nothing in the engine handles it as an error."""


class ScheduledSpec(TargetSpecBase):
    type: Literal["scheduled"]
    name: str


@dataclass
class Peer:
    """Answers the n-th send of a record (counted over both processes) by ``schedule[key][n]``,
    ``ok`` once the schedule runs out; kills the process after its ``kill_at``-th write."""

    schedule: dict[str, list[str]]
    max_attempts: int
    kill_at: int | None = None
    writes: int = 0
    sends: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # key → (process, answer)
    process: int = 1
    #: what the first process's steps recorded, by status (filled as each step's transaction is in)
    recorded: dict[str, set[str]] = field(default_factory=lambda: {"delivered": set(), "dead": set()})
    #: after each write of the first process: the records a kill at that moment would cost
    at_risk: list[set[str]] = field(default_factory=list)

    def answer(self, key: str) -> str:
        n = len(self.sends.get(key, []))
        plan = self.schedule.get(key, [])
        return plan[n] if n < len(plan) else "ok"

    def settled_in_first(self) -> set[str]:
        """The records whose fate the first process knew: answered ok or refused, or a transient
        answer to their last allowed attempt (a dead letter)."""
        settled = set()
        for key, sends in self.sends.items():
            first = [answer for process, answer in sends if process == 1]
            if first and (first[-1] in ("ok", "refuse") or len(first) >= self.max_attempts):
                settled.add(key)
        return settled

    def unrecorded(self) -> set[str]:
        return self.settled_in_first() - self.recorded["delivered"] - self.recorded["dead"]


PEER: dict[str, Peer] = {}


class ScheduledTarget(Target):
    def __init__(self, spec, ctx) -> None:
        self.peer = PEER[spec.name]

    def write(self, items: Sequence[Item]) -> list[Outcome]:
        peer = self.peer
        peer.writes += 1
        outcomes = []
        for item in items:
            kind = peer.answer(item.source_key)
            peer.sends.setdefault(item.source_key, []).append((peer.process, kind))
            if kind == "ok":
                outcomes.append(Outcome(reference=f"ref-{item.source_key}"))
            elif kind == "refuse":
                outcomes.append(Outcome(error=RecordError("refused by the peer", code="422")))
            else:  # lost: applied, the answer never came; busy: nothing applied
                outcomes.append(Outcome(error=TransientError("503 from the peer", code="503")))
        if peer.process == 1:
            peer.at_risk.append(peer.unrecorded())  # a kill now: the peer did this write, no one heard
            if peer.writes == peer.kill_at:
                raise Killed()
        return outcomes


def _registry():
    return fakes.registry({"scheduled": Plugin("scheduled", "scheduled peer", target_spec=ScheduledSpec,
                                               create_target=lambda s, c: ScheduledTarget(s, c))})


def _engine(folder: Path, reg, delivery: dict) -> Engine:
    project = fakes.make_project(folder, reg, [{
        "id": 1, "source": {"type": "memory", "name": "src"},
        "targets": [{"type": "scheduled", "name": "peer"}], "delivery": delivery}])
    return Engine(project, reg, "sandbox", state_url=f"sqlite:///{folder / 'state.db'}")


def _crash_and_restart(records: list[Record], peer: Peer, delivery: dict):
    """Run until the kill, then run again on the same state: (the second run's summary, the keys
    delivered and dead once it is done, the keys the first process's steps recorded as delivered
    and as dead)."""
    PEER["peer"] = peer
    fakes.SOURCES["src"] = records
    reg = _registry()
    recorded = peer.recorded
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        first = _engine(folder, reg, delivery)
        commit = first.store.commit_batch

        def commit_batch(iid, run_id, result, **kwargs):
            done = commit(iid, run_id, result, **kwargs)  # recorded once the transaction is in
            for row in result.deliveries:
                recorded[row.status].add(row.source_key)
            return done

        first.store.commit_batch = commit_batch  # type: ignore[method-assign]
        try:
            first.run_interface(1)
        except Killed:
            pass
        finally:
            first.close()
        peer.process = 2
        second = _engine(folder, reg, delivery)
        try:
            summary = second.run_interface(1)
            delivered = {k for k in peer.sends if (second.store.delivery(1, "scheduled", k) or {}).get("status") == "delivered"}
            dead = {row["source_key"] for row in second.store.dead_letters(interface_id=1, limit=1000)}
        finally:
            second.close()
    return summary, delivered, dead, recorded


@st.composite
def runs(draw):
    n = draw(st.integers(1, 12))
    max_attempts = draw(st.integers(1, 3))
    # a few records meet a fault, the rest are answered at once: the mix a step has to cope with
    faulty = draw(st.sets(st.integers(0, n - 1), max_size=n // 2 + 1))
    schedule = {f"s{i}": [draw(st.sampled_from(KINDS[1:])), *draw(st.lists(st.sampled_from(KINDS), max_size=2))]
                for i in faulty}
    delivery = {"batch_size": draw(st.integers(1, 12)), "commit_every": draw(st.integers(1, 5)),
                "commit_interval": "1h",
                "retries": {"max_attempts": max_attempts, "initial_delay": 0.001, "max_delay": 0.001}}
    record_cursors = draw(st.booleans())
    kill_at = draw(st.integers(1, n + 2))  # after the first process's K-th write (none if it ends sooner)
    return n, schedule, max_attempts, delivery, record_cursors, kill_at


@settings(max_examples=scaled(100, 500, "KOPPEL_RESEND_EXAMPLES"), deadline=None)
@given(runs())
@example((4, {"s1": ["lost"]}, 2, {"batch_size": 4, "commit_every": 2, "commit_interval": "1h",
                                  "retries": {"max_attempts": 2, "initial_delay": 0.001, "max_delay": 0.001}},
          False, 2))  # s1 waits: the second write may hold one record (s2), not two
def test_a_crash_sends_again_at_most_one_step_of_settled_records(case):
    n, schedule, max_attempts, delivery, record_cursors, kill_at = case
    records = fakes.records(n)
    if record_cursors:
        for i, r in enumerate(records):
            r.cursor = str(i + 1)
    peer = Peer(schedule, max_attempts, kill_at)
    summary, delivered, dead, recorded = _crash_and_restart(records, peer, delivery)

    every = delivery["commit_every"]
    # a kill after any write of the first process would have cost at most one step's records
    assert max(map(len, peer.at_risk), default=0) <= every, (peer.at_risk, peer.recorded, peer.sends)
    # and the kill that came cost exactly those: sent again, with nothing recorded as delivered
    sent_in_second = {k for k, sends in peer.sends.items() if any(process == 2 for process, _ in sends)}
    if len(peer.at_risk) >= kill_at:  # the kill came (the first process made that many writes)
        assert peer.unrecorded() & sent_in_second == peer.at_risk[kill_at - 1], (peer.at_risk, peer.sends)
    assert not recorded["delivered"] & sent_in_second, (recorded, peer.sends)
    # nothing lost: each record is delivered or a dead letter once the restart is done
    assert {f"s{i}" for i in range(n)} <= delivered | dead, (delivered, dead, peer.sends)
    assert summary.outcome in ("ok", "partial")


def test_a_write_waiting_for_its_retry_is_sent_again_once_as_the_retry_it_was_owed():
    """The case the strict xfail of 1 December 2026 counted as a broken bound: the peer applied a
    write whose answer was lost (both records wait for their retry), the next write went out
    before any step, and the kill came after it. The restart sends the waiting two again (their
    owed retry: without the kill they would have gone once more too) and the two settled ones,
    the step's worth (commit_every 2) the kill cost."""
    records = fakes.records(4)
    for i, r in enumerate(records):
        r.cursor = str(i + 1)
    peer = Peer({"s0": ["lost"], "s1": ["lost"]}, max_attempts=5, kill_at=2)
    *_, recorded = _crash_and_restart(records, peer, {"batch_size": 4, "commit_every": 2, "commit_interval": "1h",
                                                      "retries": {"max_attempts": 5, "initial_delay": 0.001, "max_delay": 0.001}})
    assert peer.sends == {
        "s0": [(1, "lost"), (2, "ok")], "s1": [(1, "lost"), (2, "ok")],
        "s2": [(1, "ok"), (2, "ok")], "s3": [(1, "ok"), (2, "ok")],
    }
    assert peer.settled_in_first() == {"s2", "s3"} and recorded == {"delivered": set(), "dead": set()}


def test_a_step_recorded_before_the_kill_is_not_sent_again():
    records = fakes.records(6)
    peer = Peer({}, max_attempts=2, kill_at=3)
    _crash_and_restart(records, peer, {"batch_size": 6, "commit_every": 2, "commit_interval": "1h",
                                       "retries": {"max_attempts": 2, "initial_delay": 0.001, "max_delay": 0.001}})
    # writes of two, a step after each: the kill after the third write costs that write's two
    assert {k: [p for p, _ in s] for k, s in peer.sends.items()} == {
        "s0": [1], "s1": [1], "s2": [1], "s3": [1], "s4": [1, 2], "s5": [1, 2]}
