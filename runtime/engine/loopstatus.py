"""What a long-lived loop of the daemon knows about itself, for /readyz and /metrics (health.py).

A realtime loop or the scheduler updates its LoopStatus as it goes: ``ran`` after a run that
did not fail, ``failed`` with the exception (consecutive failures count up until the next
success), ``standby`` while another daemon owns the interface, ``measure`` for the age of the
oldest change the interface has not sent yet. Reading a status never touches a database, so
/readyz answers at once even while the database hangs.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field

from runtime import redact

#: loop states: starting, running (a run in progress or just done), idle, standby, backoff, stopped
DOWN = "backoff"


@dataclass
class LoopStatus:
    interface_id: int
    kind: str  # outbox poll webhook (a callback loop is "webhook") cron interval
    state: str = "starting"
    failures: int = 0
    last_error: str | None = None
    changed_at: float = field(default_factory=time.time)
    lag_seconds: float | None = None  # age of the oldest change not yet sent; None: unknown
    owner: bool | None = None  # outbox/poll: whether this daemon reads for the interface
    holder: str | None = None  # the process that owns it (another daemon, when on standby)
    holder_alive: bool | None = None
    stalled_seconds: float | None = None  # standby: how long the owner has not moved the cursor
    _measured_at: float = field(default=0.0, repr=False, compare=False)
    _cursor: str | None = field(default=None, repr=False, compare=False)
    _cursor_moved_at: float = field(default=0.0, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def _set(self, state: str, **values) -> None:
        with self._lock:
            if state != self.state:
                self.changed_at = time.time()
            self.state = state
            for k, v in values.items():
                setattr(self, k, v)

    def failed(self, error: BaseException | str) -> None:
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        with self._lock:
            self.failures += 1
        self._set(DOWN, last_error=redact.text(text.splitlines()[0] if text else "")[:300])

    def ran(self) -> None:
        from runtime.engine.lease import process_id

        self._set("running", failures=0, last_error=None, owner=True if self.owner is not None else None,
                  holder=process_id() if self.owner is not None else self.holder)

    def idle(self) -> None:
        if self.state != DOWN:
            self._set("idle")

    def owning(self) -> None:
        from runtime.engine.lease import process_id

        self._set(self.state if self.state == DOWN else "idle", owner=True, holder=process_id(), holder_alive=True)

    def standby(self, store, interface, progress: tuple[float | None, str | None] | None = None) -> None:
        """Another daemon owns the interface: note who, whether its lease is still alive, and
        (outbox) how far behind the interface is and since when its cursor has not moved."""
        from runtime.engine.lease import process_of

        name = f"owner:interface:{interface.id}"
        lease = store.leases(name).get(name)
        values: dict[str, object] = {"failures": 0, "last_error": None, "owner": False,
                  "holder": process_of(lease["holder"]) if lease else None, "holder_alive": bool(lease and lease["alive"])}
        if progress is not None:
            lag, cursor = progress
            now = time.monotonic()
            if cursor != self._cursor or self._cursor_moved_at == 0.0 or not lag:  # up to date: nothing to move
                self._cursor, self._cursor_moved_at = cursor, now
            values.update(lag_seconds=lag, stalled_seconds=now - self._cursor_moved_at)
        self._set("standby", **values)

    def measure(self, reader, store, interface, objects: list[str], every: float = 2.0) -> None:
        """The outbox lag, at most every ``every`` seconds (an idle loop on SQLite wakes 20 times a second)."""
        now = time.monotonic()
        if now - self._measured_at >= every:
            self.lag_seconds = outbox_progress(reader, store, interface, objects)[0]
            self._measured_at = now

    def stopped(self) -> None:
        self._set("stopped")

    def down(self) -> bool:
        return self.state == DOWN

    def as_dict(self) -> dict:
        with self._lock:
            out = {"loop": self.kind, "state": self.state, "failures": self.failures,
                   "since": dt.datetime.fromtimestamp(self.changed_at, dt.UTC).isoformat(timespec="seconds")}
            if self.last_error:
                out["error"] = self.last_error
            if self.lag_seconds is not None:
                out["lag_seconds"] = round(self.lag_seconds, 1)
            if self.stalled_seconds is not None and self.owner is False:
                out["cursor_unmoved_seconds"] = round(self.stalled_seconds, 1)
            if self.owner is not None:
                out["owner"] = self.owner
                out["holder"] = self.holder
                out["holder_alive"] = self.holder_alive
            return out


def outbox_progress(reader, store, interface, objects: list[str]) -> tuple[float | None, str | None]:
    """(seconds since the oldest outbox change of ``objects`` after the interface's cursor, the
    cursor): lag 0 when it is up to date, None when its cursor is not an outbox position."""
    from runtime.engine.pipeline import source_names

    cursor = store.cursor(interface.id, source_names(interface)[0])
    try:
        after = int(cursor) if cursor not in (None, "") else None
    except ValueError:
        return None, cursor
    if after is None:
        return None, cursor
    rows = reader.read_after(after, objects, limit=1)
    if not rows:
        return 0.0, cursor
    return max(0.0, (dt.datetime.now(dt.UTC) - rows[0].changed_at).total_seconds()), cursor


def close_interrupted_runs(store, interface_id: int) -> int:
    """Runs of this interface this thread left ``running`` (an outage cut them short and the
    database could not be told): closed as ``interrupted`` now that it answers again."""
    from runtime.engine.lease import holder_id

    mine = holder_id()
    ids = [r["id"] for r in store.open_runs() if r["interface_id"] == interface_id and r["holder"] == mine]
    return store.close_open_runs(ids, "interrupted", "an outage of the database, the source or the target "
                                 "stopped it; what it had not recorded is read again")
