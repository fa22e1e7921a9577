"""Cron expressions, checked by the very parser the scheduler runs them with.

One parser for both: ``koppel validate`` accepts exactly what ``koppel serve`` schedules (classic
cron weekdays included, ``0 2 * * 7`` = Sunday), because both call ``cron_trigger``.
"""

from __future__ import annotations


def check_cron(expression: str) -> None:
    """Raise ValueError with a readable reason if the scheduler would not accept ``expression``."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"a cron expression has 5 fields (minute hour day month weekday), this one has {len(fields)}"
        )
    from runtime.engine.scheduler import cron_trigger

    try:
        cron_trigger(expression)
    except ValueError as exc:
        raise ValueError(f"invalid cron expression '{expression}': {exc}") from exc
