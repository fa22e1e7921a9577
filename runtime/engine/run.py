"""One run of an interface as a typed object: what every step of the run needs, in one place.

The pipeline, the bulk path (bulk.py), the callback drain (callbacks.py) and the write-back
(writeback.py) used to pass the interface, run id, lease, counts, progress callback and
write-back along as ten loose arguments; a step that needed one more value grew every
signature on the way. A ``Run`` carries them, and the few things the steps do with them:

- ``cursor(source)`` / ``record(...)``: read a source's stored cursor, and record a step of a
  batch (deliveries, dead letters, counts, the cursor when it may move) in one transaction;
- ``counted(part)``: add a recorded step's counts to the run's totals, the metrics and the
  progress callback;
- ``stop_reason()``: why the run must stop after the batch in hand (a drain, the lease lost).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runtime.engine.state.store import COUNTS, BatchResult, LeaseLost

if TYPE_CHECKING:
    from runtime.engine.lease import Lease
    from runtime.engine.pipeline import Engine
    from runtime.engine.writeback import WriteBack


def new_counts() -> dict[str, int]:
    return {name: 0 for name in COUNTS}


@dataclass
class Run:
    engine: Engine
    interface: Any  # runtime.models.interface.Interface (a model built per registry)
    id: int
    trigger: str
    lease: Lease
    writeback: WriteBack
    progress: Callable[[dict], None] | None = None
    counts: dict[str, int] = field(default_factory=new_counts)
    #: the cursor recorded last per source in this run (what ``koppel runs`` can show)
    cursors: dict[str, str | None] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    @property
    def interface_id(self) -> int:
        return int(self.interface.id)

    def cursor(self, source_name: str) -> str | None:
        return self.engine.store.cursor(self.interface_id, source_name)

    def record(self, result: BatchResult, *, source_name: str, cursor: str | None, move_cursor: bool) -> None:
        """One recorded step: the state database first, then the totals (so they never run ahead)."""
        try:
            self.engine.store.commit_batch(self.interface_id, self.id, result, source=source_name, cursor=cursor,
                                           move_cursor=move_cursor, fence=self.fence)
        except LeaseLost:
            self.lease.lost.set()  # stop_reason() ends the run; a survivor has it now
            raise
        if move_cursor:
            self.cursors[source_name] = cursor
        self.counted(result.counts)

    def counted(self, part: dict[str, int]) -> None:
        for name, value in part.items():
            self.counts[name] = self.counts.get(name, 0) + value
        metrics = self.engine.metrics
        if metrics:
            metrics.batch(self.interface_id, part)
        if self.progress:
            self.progress(dict(self.counts))

    @property
    def fence(self) -> tuple[str, str]:
        """What every step of this run is recorded under: the interface's lease, still ours."""
        return self.lease.name, self.lease.holder

    def stop_reason(self) -> tuple[str, str] | None:
        if self.engine.sleeper.stopping:
            return "stopped", "stopped by a drain"
        if self.lease.lost.is_set():
            return "stopped", "lease lost"
        return None
