"""The bulk path: replication without a Record, dict, Item or ledger row per row.

Taken for an interface with ``delivery.ledger: false``, no ``idempotency_key`` expression, no
mapping, no write-back, a source that
offers ``read_rows`` and targets that all offer ``write_rows`` (``runtime.plugin``): the db plugin's
replications (interfaces 0, 2, 18). Every other interface takes the per-record path, unchanged.
``KOPPEL_BULK=0`` turns the bulk path off (to compare, or to rule it out when hunting a bug).

Batches of rows (``Batch.rows``) go to each target's ``write_rows``; batches of records (refresh
markers, outbox changes and deletes) take the per-record path (``Engine._process_batch``) after the
rows written before them are made durable. Rows need not be durable after every batch: a *group*
of row batches is written with ``durable=False`` (on PostgreSQL one COPY stream that the server
ingests while the next batch is read; upserts stream into one stage applied at once) and made
durable at a *durable point*:

- ``BULK_GROUP_ROWS`` rows in the group (bounds memory and the work a failure repeats),
- a batch of records, the end of the source, a drain or a lost lease.

A batch that carries a cursor does not force one: an incremental run or the outbox's changes
(a cursor on every chunk of ``batch_size``) are one group, one upsert and one commit per table
instead of one per chunk. A group is recorded in the state store (counts, and the cursor of its
last batch that carries one) in one transaction at its durable point, after the targets made it
durable; before that, nothing of it is acknowledged, so the cursor never passes a row that is
not durable at every target. The group's rows
are kept until then: when a target fails (``write_rows`` or ``flush`` raises; the target has rolled
back what was not durable), the group is sent again batch by batch through the per-record path,
which decides retries and dead letters as for any interface. A crash loses only the open group's
transaction; its cursor never moved, so the next run reads it again (a first load starts again,
and the db target's refresh makes the repeat exact).
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any

from runtime.engine.state.store import BatchResult
from runtime.errors import ConfigError
from runtime.plugin import Batch

if TYPE_CHECKING:
    from runtime.engine.lane import TargetLane
    from runtime.engine.run import Run

log = logging.getLogger("koppel.engine")

#: rows written before a durable point is forced; ~44 MB of 7-column rows kept for a replay (bench)
BULK_GROUP_ROWS = 100_000


def bulk_possible(interface, source, lanes, writeback) -> bool:
    if os.environ.get("KOPPEL_BULK", "1") == "0":
        return False
    if interface.delivery.ledger or interface.delivery.idempotency_key or not lanes:
        return False  # an idempotency_key expression is checked per record (empty: dead letter)
    if not callable(getattr(source, "read_rows", None)):
        return False
    return all(lane.mapping is None and not writeback.needed(lane)
               and callable(getattr(lane.target, "write_rows", None)) for lane in lanes)


class BulkRead:
    """Read one source through the bulk path (see the module docstring)."""

    def __init__(self, run: Run, source: Any, source_name: str, lanes: list[TargetLane]) -> None:
        self.run_state, self.engine, self.interface = run, run.engine, run.interface
        self.source, self.source_name, self.lanes = source, source_name, lanes
        self.lease = run.lease
        self.group: list[Batch] = []
        self.group_rows = 0
        self.paused_gc = False  # run() paused the collector (resumed for the per-record path)

    def run(self) -> tuple[str, str | None]:
        """The read, with the cyclic garbage collector paused between the batches of rows too (the
        source and target pause it within a batch): each collection would scan the group's
        tuples, which hold no cycles (a 1M-row first load: ~4% of its time went to that). It runs
        again while records take the per-record path."""
        import gc

        if not gc.isenabled():
            return self._run()
        gc.disable()
        self.paused_gc = True
        try:
            return self._run()
        finally:
            self.paused_gc = False
            gc.enable()

    def _run(self) -> tuple[str, str | None]:
        engine = self.engine
        for batch in self.source.read_rows(self.run_state.cursor(self.source_name)):
            if batch.rows is None:
                stop = self._settle() or self._per_record(batch)
            else:
                stop = self._write(batch)
            if stop:
                return stop
            if self.group and (engine.sleeper.stopping or self.lease.lost.is_set()):
                stop = self._settle()
            if stop:
                return stop
            if engine.sleeper.stopping or self.lease.lost.is_set():
                return "stopped", "stopped by a drain" if engine.sleeper.stopping else "lease lost"
        return self._settle() or ("ok", None)

    def _write(self, batch: Batch) -> tuple[str, str] | None:
        rows = _rows_of(batch)
        durable = self.group_rows + rows >= BULK_GROUP_ROWS
        try:
            for lane in self.lanes:
                started = time.monotonic()
                lane.target.write_rows(batch.rows, durable=durable)  # type: ignore[attr-defined] # bulk_possible checked it
                if self.engine.metrics:
                    self.engine.metrics.write_latency(self.interface.id, lane.name, time.monotonic() - started)
        except ConfigError:
            raise
        except Exception as exc:
            return self._replay([*self.group, batch], exc)
        self.group.append(batch)
        self.group_rows += rows
        return self._record() if durable else None

    def _settle(self) -> tuple[str, str] | None:
        """Make the open group durable and record it."""
        if not self.group:
            return None
        try:
            for lane in self.lanes:
                flush = getattr(lane.target, "flush", None)
                if flush is not None:
                    flush()
        except ConfigError:
            raise
        except Exception as exc:
            return self._replay(self.group, exc)
        return self._record()

    def _record(self) -> tuple[str, str] | None:
        """The group is durable at every target: record its counts and the last batch's cursor."""
        group, self.group, self.group_rows = self.group, [], 0
        rows = sum(_rows_of(b) for b in group)
        targets = len(self.lanes)
        batch_counts = dict(read=rows, mapped=rows * targets, filtered=0, skipped=0, delivered=rows * targets,
                            failed=0, dead=0)
        cursor = next((b.cursor for b in reversed(group) if b.cursor is not None), None)
        self.run_state.record(BatchResult(counts=batch_counts), source_name=self.source_name, cursor=cursor,
                              move_cursor=cursor is not None)
        for batch in group:
            self.source.commit(batch)
        return None

    def _replay(self, batches: list[Batch], exc: BaseException) -> tuple[str, str] | None:
        """A target refused or lost rows not yet durable: send them again record by record."""
        from runtime.engine.lane import error_text

        self.group, self.group_rows = [], 0
        log.warning("bulk write failed (%s); %d batch(es) sent again record by record", error_text(exc),
                    len(batches), extra={"interface": self.interface.id})
        for batch in batches:
            assert batch.rows is not None  # a group holds row batches only
            stop = self._per_record(Batch(batch.rows.to_records(), batch.cursor, batch.token))
            if stop:
                return stop
        return None

    def _per_record(self, batch: Batch) -> tuple[str, str] | None:
        import gc

        if self.paused_gc:
            gc.enable()  # the per-record path may make cycles (errors, retries): collected as usual
        try:
            return self.engine._process_batch(self.run_state, batch, self.source, self.source_name, self.lanes)
        finally:
            if self.paused_gc:
                gc.disable()


def _rows_of(batch: Batch) -> int:
    return len(batch.rows) if batch.rows is not None else 0
