"""Scheduling with APScheduler 3.x: cron and interval triggers in Europe/Amsterdam.

Cron weekdays: APScheduler 3 numbers them 0 = Monday (its ``from_crontab`` passes the field
through unchanged, see the warning in apscheduler/triggers/cron/__init__.py), classic cron 0 (or 7)
= Sunday. ``cron_trigger`` rewrites numeric weekdays to names (``0 2 * * 0`` → ``sun``), so an
expression means what a cron user expects.

Every job has ``coalesce`` (missed runs collapse into one), ``max_instances=1`` and the trigger's
``misfire_grace``. Across daemons a tick is claimed once: its run key is
``<interface>@<scheduled local wall time>``, unique in ``koppel_runs``. Planned interfaces are never scheduled.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

log = logging.getLogger("koppel.scheduler")

_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _weekday_field(value: str) -> str:
    """Classic-cron weekday field → APScheduler names (numbers only; names pass unchanged)."""

    def name(n: str) -> str:
        return _DAYS[int(n)] if n.isdigit() and int(n) <= 7 else n

    parts = []
    for part in value.split(","):
        step = ""
        if "/" in part:
            part, step = part.split("/", 1)
            step = "/" + step
        m = re.fullmatch(r"(\d+)-(\d+)", part)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if lo == 0 and not step:  # 0-n: Sunday, then Monday..n (APScheduler ranges run mon..sun)
                parts.append("sun")
                if hi >= 1:
                    parts.append(f"mon-{name(str(hi))}" if hi > 1 else "mon")
                continue
            parts.append(f"{name(str(lo))}-{name(str(hi))}{step}")
        else:
            parts.append(name(part) + step if part.isdigit() else part + step)
    return ",".join(parts)


def cron_trigger(expression: str, timezone: str = "Europe/Amsterdam"):
    from apscheduler.triggers.cron import CronTrigger

    minute, hour, day, month, weekday = expression.split()
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=_weekday_field(weekday),
                       timezone=timezone)


def last_fire_time(trigger, now: dt.datetime, window: float) -> dt.datetime | None:
    """The latest fire time of ``trigger`` in (now - window, now]: the tick a job is running for."""
    start = now - dt.timedelta(seconds=window)
    previous, current = None, trigger.get_next_fire_time(None, start)
    while current is not None and current <= now:
        previous = current
        following = trigger.get_next_fire_time(current, current + dt.timedelta(microseconds=1))
        if following is not None and following <= current:  # APScheduler 3 around a DST fold
            break
        current = following
    return previous


def run_key(iid: int, tick: dt.datetime, timezone: str) -> str:
    """``<interface>@<local wall time>``. On the night clocks go back, APScheduler 3 fires a
    02:00 job at both 02:00s; both carry the same wall time, so the second is skipped as claimed."""
    from zoneinfo import ZoneInfo

    return f"{iid}@{tick.astimezone(ZoneInfo(timezone)).replace(tzinfo=None).isoformat(timespec='seconds')}"


class Scheduler:
    def __init__(self, engine, timezone: str = "Europe/Amsterdam") -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.engine = engine
        self.scheduler = BackgroundScheduler(timezone=timezone, job_defaults={"coalesce": True, "max_instances": 1})
        self.triggers: dict[int, object] = {}

    def add_interfaces(self) -> list[int]:
        from apscheduler.triggers.interval import IntervalTrigger

        added = []
        for iid, interface in sorted(self.engine.project.interfaces.items()):
            t = interface.trigger
            if interface.status != "active" or t.type not in ("cron", "interval"):
                continue
            if t.type == "cron":
                trigger, grace = cron_trigger(t.cron, t.timezone), int(t.misfire_grace)
            else:
                trigger, grace = IntervalTrigger(seconds=t.every, timezone="Europe/Amsterdam"), max(1, int(t.every))
            self.triggers[iid] = trigger
            self.scheduler.add_job(self.fire, trigger, args=[iid, grace], id=f"interface-{iid}",
                                   misfire_grace_time=grace, name=interface.name)
            added.append(iid)
        return added

    def fire(self, iid: int, grace: float) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        tick = last_fire_time(self.triggers[iid], now, grace + 60) or now.replace(second=0, microsecond=0)
        spec = self.engine.project.interfaces[iid].trigger
        key = run_key(iid, tick, getattr(spec, "timezone", "Europe/Amsterdam"))
        try:
            summary = self.engine.run_interface(iid, spec.type, run_key=key)
            if summary.outcome == "skipped":
                log.info("tick skipped: %s", summary.message, extra={"interface": iid})
        except Exception:
            log.exception("scheduled run failed", extra={"interface": iid})

    def start(self) -> None:
        self.scheduler.start()

    def shutdown(self, wait: bool = True) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
