"""Readiness that tells the truth: what /readyz answers, and the loop figures /metrics shows.

/readyz answers 503 while any of these holds, with a JSON body that names each interface and
its reason (``/healthz`` only says the process is alive):

- the daemon is starting or draining;
- the state database does not answer;
- an active interface's loop is down (its last attempt failed and it is backing off: the SIS
  store, the source or the target is unreachable);
- an interface this daemon owns has a backlog older than ``KOPPEL_READY_MAX_LAG`` seconds
  (default 300): changes wait in the outbox and do not go out;
- an interface this daemon stands by for lags beyond that limit and no live daemon holds it, or
  its owner has not moved the cursor for longer than the limit (it died and its lease has not
  expired yet, or it hangs): reported until the interface moves again or this daemon took it
  over. An owner that lags but delivers is left to report its own backlog.

A scheduled interface whose last tick failed (after its retries) is shown with its error and
counted in ``koppel_loop_consecutive_failures``, but does not fail readiness: the scheduler
itself runs, and a nightly batch that failed at 02:00 must not take the daemon's webhooks out of
the load balancer for the rest of the day. (The state database, which every tick needs, fails
readiness on its own.)

Interfaces whose definition is invalid (``koppel serve`` without ``--strict`` starts the others)
are listed under ``invalid`` but do not fail readiness: the daemon serves every valid interface,
and a load balancer that took it out would stop those too. Decision: the operator sees them in
/readyz, in the log at start and in ``koppel_definition_invalid``.
"""

from __future__ import annotations

import os

from runtime import redact
from runtime.engine.loopstatus import LoopStatus

DEFAULT_MAX_LAG = 300.0
SCHEDULED = ("cron", "interval")


def max_lag() -> float:
    try:
        return float(os.environ.get("KOPPEL_READY_MAX_LAG") or DEFAULT_MAX_LAG)
    except ValueError:
        return DEFAULT_MAX_LAG


def verdict(status: LoopStatus, limit: float) -> str | None:
    """Why this loop makes the daemon not ready; None when it is fine."""
    if status.kind in SCHEDULED:
        return None  # a failed tick is in the body and the metrics, not a reason to stop serving
    if status.down():
        return f"loop down after {status.failures} failure(s): {status.last_error or 'unknown error'}"
    lag = status.lag_seconds
    if lag is None or lag <= limit:
        return None
    if status.owner is False:
        if not status.holder_alive:
            return f"{lag:.0f} s behind and no live daemon holds it (taking it over)"
        stalled = status.stalled_seconds or 0.0
        if stalled > limit:  # the owner's lease is renewed, or not yet expired, but nothing moves
            return (f"{lag:.0f} s behind and its owner {status.holder} has not moved the cursor for "
                    f"{stalled:.0f} s (taken over when its lease expires)")
        return None  # the owner delivers: the lag is its to report
    return f"backlog {lag:.0f} s old (limit {limit:.0f} s)"


class Health:
    def __init__(self, engine, state, *, realtime=None, scheduler=None, invalid: dict[str, str] | None = None) -> None:
        self.engine, self.state = engine, state
        self.realtime, self.scheduler = realtime, scheduler
        self.invalid = invalid if invalid is not None else {}

    def statuses(self) -> list[LoopStatus]:
        out = list(self.realtime.statuses()) if self.realtime else []
        if self.scheduler:
            out += list(self.scheduler.statuses.values())
        return out

    def report(self) -> tuple[int, dict]:
        if self.state.draining:
            return 503, {"status": "draining"}
        body: dict = {}
        ready = bool(self.state.started)
        try:
            self.engine.store.ping()
            body["state_database"] = "ok"
        except Exception as exc:  # noqa: BLE001 (any failure to answer means: not ready)
            ready = False
            body["state_database"] = redact.text(f"unreachable: {type(exc).__name__}")
        limit = max_lag()
        interfaces: dict[str, dict] = {}
        for status in self.statuses():
            entry = status.as_dict()
            reason = verdict(status, limit)
            entry["ready"] = reason is None
            if reason:
                entry["reason"] = reason
                ready = False
            key = str(status.interface_id)  # a second loop of one interface: its callbacks
            interfaces[key if key not in interfaces else f"{key}:{status.kind}"] = entry
        body["interfaces"] = interfaces
        if self.invalid:
            body["invalid"] = dict(sorted(self.invalid.items()))
        body["status"] = "ready" if ready else "starting" if not self.state.started else "not ready"
        return (200 if ready else 503), body

    def collect(self, metrics) -> None:
        """Loop figures into the Prometheus gauges (called by Metrics.render)."""
        for status in self.statuses():
            metrics.loop(status)
        metrics.invalid_definitions(self.invalid)
