"""`koppel validate` and the scheduler read cron expressions with one parser (issue 14)."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from runtime.cronexpr import check_cron
from runtime.engine.scheduler import cron_trigger

AMS = ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize("expression, weekday", [("0 2 * * 7", 6), ("0 2 * * 0", 6), ("0 2 * * 1", 0),
                                                 ("0 2 * * sun", 6), ("0 2 * * 5", 4)])
def test_what_validate_accepts_is_what_the_scheduler_fires(expression: str, weekday: int) -> None:
    check_cron(expression)  # classic cron: 0 and 7 are Sunday
    start = dt.datetime(2026, 12, 1, 12, 0, tzinfo=AMS)  # a Tuesday
    fire = cron_trigger(expression).get_next_fire_time(None, start)
    assert fire.weekday() == weekday and (fire.hour, fire.minute) == (2, 0)


@pytest.mark.parametrize("expression, says", [("0 25 * * *", "invalid cron expression '0 25 * * *'"),
                                              ("0 2 * *", "has 4"), ("0 2 * * 8", "invalid cron expression")])
def test_what_validate_refuses_the_scheduler_refuses_too(expression: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        check_cron(expression)
    if len(expression.split()) == 5:
        with pytest.raises(ValueError):
            cron_trigger(expression)
