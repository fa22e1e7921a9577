"""Cron expressions: the one parser of the scheduler and of ``koppel validate``.

Cron weekdays: APScheduler 3 numbers them 0 = Monday (its ``from_crontab`` passes the field
through unchanged, see the warning in apscheduler/triggers/cron/__init__.py), classic cron 0 (or 7)
= Sunday. ``cron_trigger`` rewrites numeric weekdays to names (``0 2 * * 0`` → ``sun``), so an
expression means what a cron user expects.

One parser for both: ``koppel validate`` accepts exactly what ``koppel serve`` schedules (classic
cron weekdays included, ``0 2 * * 7`` = Sunday), because both call ``cron_trigger``.
"""

from __future__ import annotations

import re

AMSTERDAM = "Europe/Amsterdam"
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def check_cron(expression: str) -> None:
    """Raise ValueError with a readable reason if the scheduler would not accept ``expression``."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"a cron expression has 5 fields (minute hour day month weekday), this one has {len(fields)}"
        )
    try:
        cron_trigger(expression)
    except ValueError as exc:
        raise ValueError(f"invalid cron expression '{expression}': {exc}") from exc


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


def cron_trigger(expression: str, timezone: str = AMSTERDAM):
    from apscheduler.triggers.cron import CronTrigger

    minute, hour, day, month, weekday = expression.split()
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=_weekday_field(weekday),
                       timezone=timezone)
