"""Scheduling with APScheduler 3.x: cron and interval triggers in Europe/Amsterdam, one clock for
every daemon.

Cron weekdays: APScheduler 3 numbers them 0 = Monday (its ``from_crontab`` passes the field
through unchanged, see the warning in apscheduler/triggers/cron/__init__.py), classic cron 0 (or 7)
= Sunday. ``cron_trigger`` rewrites numeric weekdays to names (``0 2 * * 0`` → ``sun``), so an
expression means what a cron user expects.

One clock: an interval counts its ticks from a fixed origin, the trigger's ``start`` or else the
epoch in Europe/Amsterdam (``every: 15s`` ticks at :00, :15, :30, :45 in every daemon), never from
the moment a daemon started. So every daemon computes the same ticks, a tick has one run key and
is claimed once, and a daemon that restarts more often than the interval still runs the ticks
that fall while it is up.

Every job has ``coalesce`` (missed runs collapse into one), ``max_instances=3`` (a tick that waits
for a lease a killed daemon still holds must not keep the next tick from firing; the run lease,
not APScheduler, keeps runs of an interface from overlapping) and the trigger's ``misfire_grace``. Across daemons a tick is claimed once: its run key is ``<interface>@<tick>``,
unique in ``koppel_runs``; the tick is the scheduled local wall time for cron, UTC (with ``Z``)
for an interval (an interval tick in the doubled autumn hour is another tick, not a repeat).

A run that fails (the source is down, say) is tried again within the tick, with backoff, as long
as the misfire grace lasts (``<key>~retry<n>``). A run whose lease expired while it was still
``running`` (its daemon was killed) is finished by a survivor: the resume sweep (``resume.py``)
closes it as crashed and runs the interface again at once from its committed cursor, with
trigger ``resume``. Planned interfaces are never scheduled.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from runtime.cronexpr import cron_trigger
from runtime.engine.lease import lease_ttl
from runtime.engine.loopstatus import LoopStatus, close_interrupted_runs

if TYPE_CHECKING:
    from runtime.engine.resume import ResumeSweep

log = logging.getLogger("koppel.scheduler")

AMSTERDAM = "Europe/Amsterdam"
RETRY_FIRST, RETRY_MAX = 2.0, 60.0


def interval_origin(start: dt.datetime | None = None) -> dt.datetime:
    """Where interval ticks count from: ``start`` (naive means Europe/Amsterdam), else the epoch
    in Europe/Amsterdam (1970-01-01 00:00 local, 23:00 UTC the day before)."""
    zone = ZoneInfo(AMSTERDAM)
    if start is None:
        return dt.datetime(1970, 1, 1, tzinfo=zone)
    return start if start.tzinfo else start.replace(tzinfo=zone)


def interval_trigger(every: float, start: dt.datetime | None = None):
    from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

    return IntervalTrigger(seconds=every, start_date=interval_origin(start), timezone=AMSTERDAM)


def last_fire_time(trigger, now: dt.datetime, window: float) -> dt.datetime | None:
    """The latest fire time of ``trigger`` in (now - window, now]: the tick a job is running for."""
    start = now - dt.timedelta(seconds=window)
    previous, current = None, trigger.get_next_fire_time(None, start)
    while current is not None and current <= now:
        previous = current
        following = trigger.get_next_fire_time(current, current + dt.timedelta(microseconds=1))
        # instants, not datetimes: two times of one zone compare by wall clock, so in the doubled
        # autumn hour 02:00 CET looked no later than 02:00 CEST, the loop stopped at the fold and
        # an interval's first ticks after it got the key of the tick before it (skipped as claimed)
        if following is not None and following.timestamp() <= current.timestamp():  # APScheduler 3 around a DST fold
            break
        current = following
    return previous


def run_key(iid: int, tick: dt.datetime, timezone: str | None) -> str:
    """``<interface>@<local wall time>`` for cron; with ``timezone=None`` (intervals) the tick in
    UTC with a ``Z``. On the night clocks go back, APScheduler 3 fires a 02:00 cron job at both
    02:00s; both carry the same wall time, so the second is skipped as claimed."""
    if timezone is None:
        return f"{iid}@{tick.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec='seconds')}Z"
    return f"{iid}@{tick.astimezone(ZoneInfo(timezone)).replace(tzinfo=None).isoformat(timespec='seconds')}"


def _claimed(summary) -> bool:
    """A skipped run whose tick another daemon claimed (rather than one waiting for the lease)."""
    return "claimed" in (summary.message or "")


class Scheduler:
    def __init__(self, engine, timezone: str = AMSTERDAM) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]

        self.engine = engine
        self.scheduler = BackgroundScheduler(timezone=timezone, job_defaults={"coalesce": True, "max_instances": 3})
        self.triggers: dict[int, object] = {}
        self.statuses: dict[int, LoopStatus] = {}
        self.stopping = threading.Event()
        self.resumer: ResumeSweep | None = None

    def add_interfaces(self) -> list[int]:
        added = []
        for iid, interface in sorted(self.engine.project.interfaces.items()):
            t = interface.trigger
            if interface.status != "active" or t.type not in ("cron", "interval"):
                continue
            if t.type == "cron":
                trigger, grace = cron_trigger(t.cron, t.timezone), int(t.misfire_grace)
            else:
                trigger, grace = interval_trigger(t.every, getattr(t, "start", None)), max(1, int(t.every))
            self.triggers[iid] = trigger
            self.statuses[iid] = LoopStatus(iid, t.type)
            self.scheduler.add_job(self.fire, trigger, args=[iid, grace], id=f"interface-{iid}",
                                   misfire_grace_time=grace, name=interface.name)
            added.append(iid)
        return added

    def tick_key(self, iid: int, grace: float, now: dt.datetime | None = None) -> str:
        now = now or dt.datetime.now(dt.UTC)
        tick = last_fire_time(self.triggers[iid], now, grace + 60) or now.replace(second=0, microsecond=0)
        spec = self.engine.project.interfaces[iid].trigger
        return run_key(iid, tick, spec.timezone if spec.type == "cron" else None)

    def fire(self, iid: int, grace: float) -> None:
        """Run the tick that is due; a failed run is tried again (backoff) within the grace."""
        import time

        key = self.tick_key(iid, grace)
        spec = self.engine.project.interfaces[iid].trigger
        status = self.statuses.setdefault(iid, LoopStatus(iid, spec.type))
        started = time.monotonic()
        deadline = started + grace
        attempt, delay = 1, RETRY_FIRST
        while not self.stopping.is_set():
            attempt_key = key if attempt == 1 else f"{key}~retry{attempt}"
            try:
                close_interrupted_runs(self.engine.store, iid)
                if self.resumer is not None:  # a killed earlier tick is finished first
                    self.resumer.sweep(interface_id=iid)
                summary = self.engine.run_interface(iid, spec.type, run_key=attempt_key)
            except Exception as exc:  # the state database went away mid-run: recorded when it returns
                status.failed(exc)
                log.warning("scheduled run failed: %s", type(exc).__name__, exc_info=True, extra={"interface": iid})
            else:
                busy = summary.outcome == "skipped" and not _claimed(summary)
                if summary.outcome == "skipped" and not busy:
                    log.info("tick skipped: %s", summary.message, extra={"interface": iid})
                if summary.outcome not in ("error", "skipped") or (summary.outcome == "skipped" and not busy):
                    status.ran()
                    return
                if busy:  # another run holds the lease (perhaps a dead one, until it expires): wait for it
                    status.ran()
                    # a lease renewed just before its holder died lives a TTL more: wait that out
                    if time.monotonic() + 1 > max(deadline, started + 2 * lease_ttl() + 2):
                        log.info("tick %s skipped: %s", key, summary.message, extra={"interface": iid})
                        return
                    self.stopping.wait(1.0)
                    continue
                status.failed(summary.message or "error")
            if time.monotonic() + delay > deadline:
                log.error("tick %s given up after %d attempts; the next tick reads from the cursor", key, attempt,
                          extra={"interface": iid})
                return
            self.stopping.wait(delay)
            attempt, delay = attempt + 1, min(RETRY_MAX, delay * 2)

    def start(self) -> None:
        from runtime.engine.resume import ResumeSweep

        self.scheduler.start()
        resumer = self.resumer = ResumeSweep(self.engine, self, self.stopping)
        resumer.start()

    def shutdown(self, wait: bool = True) -> None:
        self.stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        if self.resumer is not None:
            self.resumer.join(timeout=10)
