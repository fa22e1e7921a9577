"""Absence in the autumn of 2026, and the verzuimmeldingen the 16-hours rule calls for.

Most students miss a few hours, about half of them authorised. About one in sixteen skips
school for a stretch: enough unauthorised hours to cross the rule. The rule (leerplicht and
kwalificatieplicht): at least 16 hours of unauthorised absence within 4 school weeks (holidays
left out), for students under 18 without a startkwalificatie, must be reported to DUO; each new
16 hours in a new period is a new report, ending on the day the hours were reached. The school
calendar is the one the migrations enter (region zuid, ``runtime.sis.schoolcalendar``). The rule itself is
``runtime.sis.verzuim``: its Python twin computes the reports here, its triggers in the store make
the same reports for absence recorded later, with the same ids (``VZ-<student>-<period start>``).
"""

from __future__ import annotations

import datetime as dt
import random

from runtime.sis.schoolcalendar import REGIO_ZUID, holidays_of
from runtime.sis.verzuim import RULE_DAYS, RULE_HOURS, crossings, is_minor, report_id

__all__ = ["HOLIDAYS", "RULE_DAYS", "RULE_HOURS", "absences_and_reports", "crossings", "is_minor"]

HOLIDAYS = holidays_of((first, last) for _year, _name, first, last, _source in REGIO_ZUID)

FIRST_DAY = dt.date(2026, 8, 31)
SCHOOL_DAYS = [
    FIRST_DAY + dt.timedelta(days=i) for i in range(47) if (FIRST_DAY + dt.timedelta(days=i)).weekday() < 5
]
AUTHORISED = ("ziek", "ziek", "tandarts", "familieomstandigheden", "religieuze feestdag")
UNAUTHORISED = ("ongeoorloofd", "ongeoorloofd", "te laat", "spijbelen")


def absences_and_reports(rng: random.Random, students: list[dict]) -> tuple[list[tuple], list[tuple]]:
    absences: list[tuple] = []
    reports: list[tuple] = []
    next_absence = 1
    for student in students:
        if rng.random() < 0.06:
            first = rng.randrange(len(SCHOOL_DAYS) - 20)
            days = sorted(rng.sample(SCHOOL_DAYS[first:first + 20], k=rng.randint(8, 12)))
            entries = [(day, float(rng.randint(2, 6)), False, rng.choice(UNAUTHORISED)) for day in days]
        else:
            days = sorted(rng.sample(SCHOOL_DAYS, k=rng.randint(0, 5)))
            entries = []
            for day in days:
                authorised = rng.random() < 0.5
                reason = rng.choice(AUTHORISED if authorised else UNAUTHORISED)
                entries.append((day, float(rng.randint(1, 4)), authorised, reason))
        for day, hours, authorised, reason in entries:
            absences.append((f"ABS{next_absence}", student["number"], day.isoformat(), hours, authorised, reason))
            next_absence += 1
        if not student["has_startkwalificatie"]:
            for start, end, hours in crossings(entries, student["birth"], HOLIDAYS):
                reported = end < dt.date(2026, 10, 1)
                reports.append(
                    (report_id(student["number"], start), student["number"], "ongeoorloofd_16_uur", start.isoformat(),
                     end.isoformat(), hours, "gemeld" if reported else "te_melden",
                     f"{end + dt.timedelta(days=3)} 09:00:00.000000" if reported else None,
                     f"DUO-VZ-{rng.randint(10**8, 10**9 - 1)}" if reported else None)
                )
    return absences, reports

