"""Outcomes made durable in small steps within a batch, so a crash re-sends at most one step.

A batch (``delivery.batch_size``, 500 by default) is delivered record by record, but before this
module its outcomes were recorded only at its end: a SIGKILL mid-batch sent the whole batch
again, and kills that came faster than one batch kept the cursor where it was for good.

A ``Checkpoint`` follows one batch through every lane. The lanes hand it each record they
settle (delivered, dead, filtered, skipped) and ask it, before each write, how many records they
may send before the next step (``room``); after each write it commits a step when
``delivery.commit_every`` records were settled since the last one or ``delivery.commit_interval``
has passed. A step is one transaction (``StateStore.commit_batch``): the deliveries and dead
letters of the step, their write-backs, the run's counts and, when the source can say, a cursor.

The cursor of a step. A source may give a record its own ``Record.cursor``: the position that
is safe to store once this record *and every record before it in the batch* are acknowledged (an
outbox source: the sequence number below the first change not yet covered). A step stores the
cursor of the last record of the prefix that every lane has acknowledged, never one past a
record still waiting for a retry; without record cursors only the batch's own cursor moves, at
its end. Either way the ledger rows of a step are durable, so after a crash the batch is read
again from the stored cursor and what a step recorded is skipped as already delivered.

How big a step is. A step costs one state transaction (and the target a write): cheap next to
a second of REST calls, dear next to 50 upserts that take a millisecond. So a step closes after
``commit_every`` records *or* ``commit_interval`` seconds, whichever comes first, and the lanes'
writes are sized to match: a lane's first write holds at most ``FIRST_WRITE`` records, which
times the target; every later write (in this batch and the next ones) holds no more records
than fit, at the pace of the lane's last write, in what is left of the interval (``room``). A
slow target so gets steps of about ``commit_interval`` of work (a REST peer at 100 ms a record:
~10 records), a fast one steps of ``commit_every`` records (a db upsert: 1,000 records in tens
of milliseconds).

The defaults (1,000 records, 1 s) come from bench/bench_engine.py: at 50 records a step, the
step commits and the target's per-write overhead took ~80% of a fast run; at 1,000 they are a
few percent, and larger steps gained nothing measurable. The price is the re-send bound below.

How many records a crash can re-send: the records whose outcome the lane had (delivered, or a
dead letter) that no step had recorded yet, and those in flight: at most ``commit_every`` per
lane, and at most about ``commit_interval`` of the target's work; never fewer than one write.
Two kinds of record are also sent again after a restart, and are not counted, because the
engine would send them again without a crash too:

- a record waiting for its retry (its write failed, perhaps after the peer applied it): the send
  after the restart is the retry it was owed, with the same idempotency key and payload. Its
  attempts start again from one. ``room`` does not count these records: counting them would hold
  back the records behind a 429 until its Retry-After has passed;
- a record a step recorded as a dead letter, when no cursor was stored past it: read again, it is
  tried again, as any later run that reads it would (only a *delivered* ledger row skips it).

With ``skip_unchanged: false`` the ledger skips nothing, so after a crash the batch is sent again
from its stored cursor: the interface asked for every record it reads to be sent.
tests/engine/test_resend_bound.py checks this through the engine, killing it after a write chosen
at random under random fault schedules, and restarting it on the same state.

The last step of a batch. Records without cursors of their own (most batch sources) give a
step before the batch's end nothing to store but rows; so after the last lane's last write no
step is made: the batch's final step follows at once, with nothing sent in between, and records
those rows with the batch's cursor in one transaction (one state commit per batch of
``commit_every`` records, not two). With record cursors that write's step is made as before.

Counts: ``read`` is counted for the acknowledged prefix only (the rest is read again after a
crash), so the run history still adds up to the records the source holds.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runtime.engine.state.store import BatchResult
from runtime.plugin import Batch, Record

if TYPE_CHECKING:
    from runtime.engine.lane import LaneResult, TargetLane

#: records in a lane's first write, before the target's pace is known: the step size the
#: default was before issue 15, so a slow target's first write re-sends no more than it did
FIRST_WRITE = 50

#: seconds per settled record of each lane's last write, kept from batch to batch
_PACE: weakref.WeakKeyDictionary[TargetLane, float] = weakref.WeakKeyDictionary()


@dataclass
class _Tracked:
    """What one lane settled in this batch, and how much of it is already recorded."""

    lane: TargetLane
    result: LaneResult
    acked: set[int] = field(default_factory=set)  # id() of the records this lane settled
    deliveries: int = 0  # rows of result.result.deliveries already committed
    dead: int = 0
    delivered: int = 0  # entries of result.delivered already written back


class Checkpoint:
    def __init__(self, *, batch: Batch, lanes: int, counts: dict[str, int], commit: Callable[..., Any],
                 write_back: Callable[[TargetLane, list], list], ledger: bool, every: int,
                 interval: float) -> None:
        self.records = batch.records
        self.batch = batch
        #: whether any record has a cursor of its own; if none, no step before the last can move it
        self.record_cursors = any(r.cursor is not None for r in batch.records)
        self.lanes = lanes
        self.counts = counts  # the batch's counts, which the lanes keep adding to
        self._commit = commit  # (BatchResult, cursor or None, move_cursor) -> None
        self._write_back = write_back
        self.ledger = ledger
        self.every = max(1, every)
        self.interval = interval
        self.tracked: list[_Tracked] = []
        self.prefix = 0  # records acknowledged by every lane, in source order
        self.stored = 0  # records behind the cursor stored so far (counted as read)
        self.recorded: dict[str, int] = {k: 0 for k in counts}
        self.unrecorded = 0  # records settled since the last step
        self.last = time.monotonic()
        self.steps = 0
        self.pace: float | None = None  # seconds per settled record of the lane's last write
        self._write_started = 0.0
        self._before_write = 0

    # -- called by the lanes -------------------------------------------------------------------

    def attach(self, lane: TargetLane, result: LaneResult) -> None:
        self.tracked.append(_Tracked(lane, result))
        self.pace = _PACE.get(lane)  # each target its own pace

    def ack(self, record: Record) -> None:
        self.tracked[-1].acked.add(id(record))
        self.unrecorded += 1

    def ack_many(self, records: list[Record]) -> None:
        """``ack`` of each of ``records`` (the delivered of one write, the skipped of a wave)."""
        self.tracked[-1].acked.update(map(id, records))
        self.unrecorded += len(records)

    def room(self) -> int:
        """How many records the lane may send in its next write: no more than the step has left,
        in records and, at the pace of the writes so far, in time (see the module docstring)."""
        now = time.monotonic()
        self._write_started, self._before_write = now, self.unrecorded
        left = self.every - self.unrecorded
        if self.pace is None:
            left = min(left, FIRST_WRITE)
        elif self.pace > 0:
            left = min(left, int((self.interval - (now - self.last)) / self.pace))
        return max(1, left)

    def tick(self, *, more: bool = True) -> None:
        """After each write. ``more``: the lane has more of this batch to send (or retry).

        After the last lane's last write of a batch whose records have no cursors of their own no
        step is made here: it would store no cursor, and the batch's final step (pipeline.py),
        next with nothing sent in between, records the same rows and the batch's cursor in one
        transaction instead of two. With record cursors the step stores the prefix's cursor."""
        now = time.monotonic()
        settled = self.unrecorded - self._before_write
        if settled > 0:
            self.pace = _PACE[self.tracked[-1].lane] = (now - self._write_started) / settled
        if not more and not self.record_cursors and len(self.tracked) == self.lanes:
            return
        if self.unrecorded >= self.every or now - self.last >= self.interval:
            self.step()

    # -- steps ---------------------------------------------------------------------------------

    def step(self, *, final: bool = False, complete: bool = False) -> None:
        """Record what was settled since the last step (and, at the end, the batch's cursor)."""
        result = BatchResult()
        for t in self.tracked:
            lane_result = t.result
            if self.ledger:
                result.deliveries += lane_result.result.deliveries[t.deliveries:]
            result.dead += lane_result.result.dead[t.dead:]
            delivered = lane_result.delivered[t.delivered:]
            if delivered:
                result.dead += self._write_back(t.lane, delivered)
            t.deliveries = len(lane_result.result.deliveries)
            t.dead = len(lane_result.result.dead)
            t.delivered = len(lane_result.delivered)
        cursor, move = self._cursor(final and complete)
        self.counts["read"] = self.stored  # what is read again after a crash is counted then
        result.counts = {k: v - self.recorded.get(k, 0) for k, v in self.counts.items()}
        self.recorded = dict(self.counts)
        self._commit(result, cursor, move)
        self.unrecorded = 0
        self.last = time.monotonic()
        self.steps += 1

    def _cursor(self, complete: bool) -> tuple[str | None, bool]:
        if complete:
            self.stored = len(self.records)
            return self.batch.cursor, self.batch.cursor is not None
        if len(self.tracked) < self.lanes or not self.record_cursors:
            return None, False  # a lane has not started on this batch, or no record cursor to store
        while self.prefix < len(self.records) and all(
                id(self.records[self.prefix]) in t.acked for t in self.tracked):
            self.prefix += 1
        for end in range(self.prefix, self.stored, -1):  # the last record cursor in the prefix
            cursor = self.records[end - 1].cursor
            if cursor is not None:
                self.stored = end
                return cursor, True
        return None, False

