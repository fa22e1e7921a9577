"""The college's school calendar: its holidays per school year, kept as data in the SIS store.

DUO's verzuim rule counts "4 aaneengesloten schoolweken" and "vakantiedagen tellen niet mee"
(``runtime.sis.verzuim``). The store holds the holidays (table ``school_holiday``: school year,
name, first and last day, region, where the dates come from); every day that is not a holiday
day is a school day, so the school weeks of a year are what its holidays leave. A year whose
holidays are not entered is counted as all school weeks: the rule then reports as it would
without a calendar (sooner, never later), instead of silently reporting nothing.

Holidays of one store must not overlap (``check`` says where they do): the rule counts holiday
days per holiday, and an overlap would count a day twice.

The migration that creates the table enters the holidays of region zuid (the college is in
's-Hertogenbosch) for 2025-2026 and 2026-2027, as the Rijksoverheid publishes them
(Saturday to Sunday, the whole period a school may close). A college that closes longer (a
second May week, a study day) adds its own rows; ``koppel sis calendar`` lists them with the
school weeks they leave. Sources and what was assumed: ``docs/legal-notes.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from itertools import pairwise

from sqlalchemy.engine import Connection

Holiday = tuple[dt.date, dt.date]  # first and last day, both included

# Where the dates come from (details in docs/legal-notes.md): the Rijksoverheid's dates for region
# zuid as published by schools in that region that follow them, Saturday to Sunday.
_2025 = "Rijksoverheid regio zuid 2025-2026, via gbbenjamin.nl and montessoricollege.nl"
_2026 = "Rijksoverheid regio zuid 2026-2027, derived from montessoricollege.nl (Nijmegen); verify"
#: (school year, name, first day, last day, source): region zuid.
REGIO_ZUID: tuple[tuple[str, str, str, str, str], ...] = (
    ("2025-2026", "herfstvakantie", "2025-10-11", "2025-10-19", _2025),
    ("2025-2026", "kerstvakantie", "2025-12-20", "2026-01-04", _2025),
    ("2025-2026", "voorjaarsvakantie", "2026-02-14", "2026-02-22", _2025),
    ("2025-2026", "meivakantie", "2026-04-25", "2026-05-03", _2025),
    ("2025-2026", "zomervakantie", "2026-07-11", "2026-08-23", _2025),
    ("2026-2027", "herfstvakantie", "2026-10-17", "2026-10-25", _2026),
    ("2026-2027", "kerstvakantie", "2026-12-19", "2027-01-03", _2026),
    ("2026-2027", "voorjaarsvakantie", "2027-02-06", "2027-02-14", _2026),
    ("2026-2027", "meivakantie", "2027-04-24", "2027-05-02", _2026),
    ("2026-2027", "zomervakantie", "2027-07-17", "2027-08-29", _2026),
)


def holidays_of(rows: Iterable[tuple]) -> list[Holiday]:
    """(first, last) of each holiday row ((..., first, last, ...) as dates or ISO text)."""
    return [(_date(first), _date(last)) for first, last in rows]


def load(connection: Connection) -> list[Holiday]:
    """The store's holidays, in date order."""
    rows = connection.exec_driver_sql("SELECT start_date, end_date FROM school_holiday ORDER BY start_date")
    return holidays_of(rows)


def is_holiday(day: dt.date, holidays: Iterable[Holiday]) -> bool:
    return any(first <= day <= last for first, last in holidays)


def holiday_days_before(day: dt.date, holidays: Iterable[Holiday]) -> int:
    """How many holiday days lie before ``day`` (the same sum the SQL makes)."""
    return sum(
        (min(last, day - dt.timedelta(days=1)) - first).days + 1 for first, last in holidays if first < day
    )


def school_day_number(day: dt.date, holidays: Iterable[Holiday]) -> int:
    """A count of days in which holiday days are left out: two school days are n school weeks
    apart when their numbers are 7n apart, however many holidays lie between."""
    return day.toordinal() - holiday_days_before(day, holidays)


def school_weeks(first: dt.date, last: dt.date, holidays: Iterable[Holiday]) -> list[dt.date]:
    """The Mondays of the weeks from ``first`` to ``last`` that are not holiday weeks (a week is a
    holiday week when Monday to Friday are all holiday days)."""
    holidays = list(holidays)
    monday = first - dt.timedelta(days=first.weekday())
    weeks = []
    while monday <= last:
        if not all(is_holiday(monday + dt.timedelta(days=i), holidays) for i in range(5)):
            weeks.append(monday)
        monday += dt.timedelta(days=7)
    return weeks


def check(rows: Iterable[tuple[str, str, dt.date | str, dt.date | str]]) -> list[str]:
    """Problems with holiday rows (school year, name, first, last): a last day before the first,
    or two holidays that overlap."""
    problems = []
    spans = sorted((_date(a), _date(b), f"{year} {name}") for year, name, a, b in rows)
    for first, last, label in spans:
        if last < first:
            problems.append(f"{label}: last day {last} is before the first {first}")
    for (_a1, b1, l1), (a2, b2, l2) in pairwise(spans):
        if a2 <= b1:
            problems.append(f"{l1} and {l2} overlap ({a2} to {min(b1, b2)})")
    return problems


def _date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
