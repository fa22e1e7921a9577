"""Cron expressions, checked the way APScheduler 3 will read them."""

from __future__ import annotations


def check_cron(expression: str) -> None:
    """Raise ValueError with a readable reason if APScheduler would not accept ``expression``."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"a cron expression has 5 fields (minute hour day month weekday), this one has {len(fields)}"
        )
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expression, timezone="Europe/Amsterdam")
    except ValueError as exc:
        raise ValueError(f"invalid cron expression '{expression}': {exc}") from exc
