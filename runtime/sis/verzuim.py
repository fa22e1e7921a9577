"""The 16-hours-in-4-weeks rule (verzuim), as database triggers and as its Python twin.

Whoever records absence in the SIS store (Koppel, an attendance officer's client, plain SQL), the
store itself decides whether a verzuimmelding is due: triggers on ``absence`` create an
``absence_report`` (kind ``ongeoorloofd_16_uur``, status ``te_melden``), and the outbox carries it
to interface 16. The seed generates its reports with the Python twin below (``crossings``), and a
test drives random absence patterns through the triggers and the twin to keep them equal.

The rule as implemented (decisions):

- **Who**: a student *without a startkwalificatie* who is *under 18 on the day of the absence*
  (``person.birth_date``; age counted as in law, a 29 February birthday falls on 1 March).
  That is the leerplichtige (up to 16) and the kwalificatieplichtige (16-18 without
  startkwalificatie). Students of 18-23 without a startkwalificatie are not leer- or
  kwalificatieplichtig: their absence is "18-plus verzuim" for the RMC, another kind of report,
  which this rule does not make. Without a birth date the store cannot tell, and reports nothing
  (a report to DUO about someone who turns out not to be leerplichtig is a privacy breach; a
  missing birth date shows up in other checks).
- **What counts**: unauthorised hours (``authorised`` false), summed per day, on school days:
  hours recorded on a holiday day of the school calendar (``runtime.sis.schoolcalendar``) do not
  count ("vakantiedagen tellen niet mee", DUO).
- **The scan**: the days are read in date order; the window of "4 aaneengesloten schoolweken"
  holds the days of the last 28 *school* days: days are numbered with the holiday days left out
  (``school_day_number``), and a day is in the window when ``number(day) - number(first) < 28``.
  A holiday week thus stretches the window by a week. When the hours in the window reach 16
  (DUO: "minimaal 16 uur"), that is a crossing: period = first day in the window .. the day the
  16 hours were reached, hours = the window's total. Then the window is emptied: each new report
  needs a new 16 hours in a new period.
- **When**: after an insert of an unauthorised absence row, and after an update that changes
  its student, date, hours or authorisation and leaves it unauthorised. Deletes and rows marked
  authorised remove hours; they never make a report (and a report already made is not withdrawn:
  withdrawing is the attendance officer's decision, ``status = 'ingetrokken'``). A change of a
  birth date or of ``has_startkwalificatie`` is taken into account at the student's next absence.
- **Once per period**: a crossing whose period overlaps a report of this kind the student already
  has (whatever its status: a withdrawn report was a decision about that period too) is that
  report, and nothing is made. Report ids are deterministic, ``VZ-<student number>-<period start>``
  (``kenmerkMeldingSchool``, at most 40 characters: student numbers up to 26 characters), so two
  clients cannot make the same report twice: on PostgreSQL the student rows are locked
  (``FOR NO KEY UPDATE``) before the scan, so concurrent writers for one student take turns and
  the second sees the first's absence and report.
- **Granularity**: PostgreSQL evaluates once per statement (transition tables), SQLite once per
  row (it has no statement triggers). They differ only when one statement writes several days of
  one student out of date order; the Python twin (``apply_rule``) models one evaluation.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from collections.abc import Iterable

from sqlalchemy.engine import Connection

from runtime.sis.schoolcalendar import Holiday, is_holiday, school_day_number

RULE_HOURS = 16.0  # at least this many unauthorised hours ...
RULE_DAYS = 28  # ... within this many school days (4 school weeks; holiday days left out)
KIND = "ongeoorloofd_16_uur"
#: the kinds of verzuimmelding the store holds; the rule makes only ``KIND``, the attendance
#: officer the others (langdurig relatief verzuim, luxe verzuim, overig).
KINDS = ("ongeoorloofd_16_uur", "langdurig", "luxe", "overig")
ADULT_AGE = 18

Crossing = tuple[dt.date, dt.date, float]  # (period start, day the hours were exceeded, hours)


# --- the Python twin ----------------------------------------------------------------------


def is_minor(birth: dt.date | None, on: dt.date) -> bool:
    if birth is None:
        return False
    return (on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))) < ADULT_AGE


def report_id(student_number: str, start: dt.date) -> str:
    return f"VZ-{student_number}-{start.isoformat()}"


def crossings(
    entries: Iterable[tuple], birth: dt.date | None, holidays: Iterable[Holiday] = ()
) -> list[Crossing]:
    """Every crossing of the rule in ``entries`` ((day, hours, authorised, ...) in any order) of a
    student without startkwalificatie born on ``birth``, with the school calendar's ``holidays``."""
    holidays = list(holidays)
    per_day: dict[dt.date, float] = defaultdict(float)
    for day, hours, authorised, *_ in entries:
        if not authorised and is_minor(birth, day) and not is_holiday(day, holidays):
            per_day[day] += hours
    window: deque[tuple[int, dt.date, float]] = deque()
    found: list[Crossing] = []
    for day in sorted(per_day):
        number = school_day_number(day, holidays)
        window.append((number, day, per_day[day]))
        while number - window[0][0] >= RULE_DAYS:
            window.popleft()
        total = sum(hours for _, _, hours in window)  # summed afresh, as the SQL does: no drift
        if total >= RULE_HOURS:
            found.append((window[0][1], day, total))
            window.clear()  # a new report needs a new 16 hours in a new period
    return found


def new_reports(found: list[Crossing], existing: Iterable[tuple[dt.date, dt.date | None]]) -> list[Crossing]:
    """The crossings that are not already reported: no report of this kind overlaps their period."""
    periods = list(existing)
    return [c for c in found if not any(s <= c[1] and (e is None or e >= c[0]) for s, e in periods)]


def apply_rule(
    student_number: str, entries: Iterable[tuple], birth: dt.date | None, has_startkwalificatie: bool,
    existing: dict[str, tuple[dt.date, dt.date | None]], holidays: Iterable[Holiday] = (),
) -> dict[str, Crossing]:
    """One evaluation of the triggers for one student: the reports they make, by id.
    ``existing``: the student's reports of this kind, id → (start, end)."""
    if has_startkwalificatie:
        return {}
    made = new_reports(crossings(entries, birth, holidays), existing.values())
    return {report_id(student_number, c[0]): c for c in made if report_id(student_number, c[0]) not in existing}


# --- the SQL ------------------------------------------------------------------------------


def _dialect_parts(sqlite: bool) -> dict[str, str]:
    if sqlite:
        return {
            "day": "date(a.date)",
            "dayno": "julianday(g.d)",
            "holiday_days_before": (
                "(SELECT coalesce(sum(min(julianday(h.end_date), julianday(g.d) - 1) - julianday(h.start_date) + 1), 0)"
                " FROM school_holiday h WHERE date(h.start_date) < g.d)"
            ),
            "on_holiday": "date(a.date) BETWEEN date(h.start_date) AND date(h.end_date)",
            # age < 18 ⇔ yyyymmdd(on) - yyyymmdd(birth) < 180000, the same count as ``is_minor``
            "age_key": "CAST(strftime('%Y%m%d', a.date) AS INTEGER) - CAST(strftime('%Y%m%d', p.birth_date) AS INTEGER)",
            "iso_start": "c.start_d",
        }
    return {
        "day": "a.date",
        "dayno": "(g.d - DATE '1970-01-01')",
        "holiday_days_before": (
            "(SELECT coalesce(sum(LEAST(h.end_date, g.d - 1) - h.start_date + 1), 0)"
            " FROM school_holiday h WHERE h.start_date < g.d)"
        ),
        "on_holiday": "a.date BETWEEN h.start_date AND h.end_date",
        "age_key": "to_char(a.date, 'YYYYMMDD')::int - to_char(p.birth_date, 'YYYYMMDD')::int",
        "iso_start": "to_char(c.start_d, 'YYYY-MM-DD')",
    }


def report_sql(sqlite: bool, students: str) -> str:
    """``INSERT INTO absence_report ...``: the reports the rule calls for, for the students that
    ``students`` (a SELECT of one column) yields. The same scan as ``crossings``, as a recursive
    query: row n of a student is reached from row n-1, carrying where the window was last
    emptied (``reset``) and the window's total. ``j`` is the school day number."""
    p = _dialect_parts(sqlite)
    reset = f"CASE WHEN c.total >= {RULE_HOURS} THEN c.n ELSE c.reset END"
    window = "y.s = {s} AND y.n > {reset} AND y.n <= {n} AND {j} - y.j < " + str(RULE_DAYS)
    return f"""
INSERT INTO absence_report (report_id, student_number, kind, start_date, end_date, hours, status)
SELECT 'VZ-' || c.s || '-' || {p['iso_start']}, c.s, '{KIND}', c.start_d, c.end_d, c.hours, 'te_melden'
FROM (
  WITH RECURSIVE days (s, n, d, j, h) AS (
    SELECT g.s, row_number() OVER (PARTITION BY g.s ORDER BY g.d), g.d, {p['dayno']} - {p['holiday_days_before']}, g.h
    FROM (
      SELECT a.student_number AS s, {p['day']} AS d, sum(a.hours) AS h
      FROM absence a
      JOIN student st ON st.student_number = a.student_number
      JOIN person p ON p.person_number = st.person_number
      WHERE a.student_number IN ({students})
        AND NOT a.authorised AND NOT st.has_startkwalificatie
        AND {p['age_key']} < {ADULT_AGE * 10000}
        AND NOT EXISTS (SELECT 1 FROM school_holiday h WHERE {p['on_holiday']})
      GROUP BY a.student_number, {p['day']}
    ) AS g
  ),
  scan (s, n, j, reset, total) AS (
    SELECT s, CAST(0 AS BIGINT), j - j, CAST(0 AS BIGINT), CAST(0 AS DOUBLE PRECISION) FROM days WHERE n = 1
    UNION ALL
    SELECT x.s, x.n, x.j, {reset},
           (SELECT sum(y.h) FROM days y WHERE {window.format(s='x.s', reset=reset, n='x.n', j='x.j')})
    FROM scan c JOIN days x ON x.s = c.s AND x.n = c.n + 1
  )
  SELECT c.s AS s, x.d AS end_d, c.total AS hours,
         (SELECT min(y.d) FROM days y WHERE {window.format(s='c.s', reset='c.reset', n='c.n', j='c.j')}) AS start_d
  FROM scan c JOIN days x ON x.s = c.s AND x.n = c.n
  WHERE c.total >= {RULE_HOURS}
) AS c
WHERE NOT EXISTS (SELECT 1 FROM absence_report r WHERE r.report_id = 'VZ-' || c.s || '-' || {p['iso_start']})
  AND NOT EXISTS (
    SELECT 1 FROM absence_report r
    WHERE r.student_number = c.s AND r.kind = '{KIND}' AND r.start_date <= c.end_d
      AND (r.end_date IS NULL OR r.end_date >= c.start_d)
  )"""


_RELEVANT = ("student_number", "date", "hours", "authorised")
# Most students never have 16 unauthorised hours at all; for them no window can cross
# the rule, so the scan (the same result: nothing) is skipped.
_TOTAL = "(SELECT sum(hours) FROM absence WHERE student_number = {student} AND NOT authorised)"
_WORTH_A_SCAN = (
    "SELECT array_agg(student_number) INTO {students} FROM (SELECT student_number FROM absence "
    "WHERE student_number = ANY({students}) AND NOT authorised GROUP BY student_number "
    f"HAVING sum(hours) >= {RULE_HOURS}) AS worth;"
)


def sqlite_ddl() -> list[str]:
    insert = report_sql(True, "NEW.student_number")
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _RELEVANT)
    worth = f"{_TOTAL.format(student='NEW.student_number')} >= {RULE_HOURS}"
    return [
        f"CREATE TRIGGER verzuim_absence_insert AFTER INSERT ON absence WHEN NOT NEW.authorised AND {worth} "
        f"BEGIN {insert}; END",
        f"CREATE TRIGGER verzuim_absence_update AFTER UPDATE OF {', '.join(_RELEVANT)} ON absence "
        f"WHEN NOT NEW.authorised AND ({changed}) AND {worth} BEGIN {insert}; END",
    ]


def sqlite_drop() -> list[str]:
    return [f"DROP TRIGGER IF EXISTS verzuim_absence_{op}" for op in ("insert", "update")]


def postgresql_ddl() -> list[str]:
    same = " AND ".join(f"o.{c} = n.{c}" for c in ("absence_id", *_RELEVANT))
    students_of = {
        "insert": "SELECT array_agg(DISTINCT n.student_number) INTO students FROM verzuim_new n WHERE NOT n.authorised;",
        "update": (
            "SELECT array_agg(DISTINCT n.student_number) INTO students FROM verzuim_new n WHERE NOT n.authorised "
            f"AND NOT EXISTS (SELECT 1 FROM verzuim_old o WHERE {same});"
        ),
    }
    statements = [
        # One student's writers take turns: the second sees the first's absence and report.
        # A generic plan: planning the scan afresh for every statement costs more than running it.
        "CREATE OR REPLACE FUNCTION koppel_verzuim_report(students text[]) RETURNS void LANGUAGE plpgsql "
        "SET plan_cache_mode = force_generic_plan AS $fn$\n"
        "BEGIN\n"
        "PERFORM 1 FROM student WHERE student_number = ANY(students) ORDER BY student_number FOR NO KEY UPDATE;\n"
        f"{_WORTH_A_SCAN.format(students='students')}\n"
        "IF students IS NULL THEN RETURN; END IF;\n"
        f"{report_sql(False, 'SELECT unnest(students)')}\n"
        "ON CONFLICT (report_id) DO NOTHING;\n"
        "END\n$fn$",
    ]
    for op, select in students_of.items():
        statements.append(
            f"CREATE OR REPLACE FUNCTION verzuim_absence_{op}() RETURNS trigger LANGUAGE plpgsql AS $fn$\n"
            f"DECLARE students text[];\nBEGIN\n{select}\n"
            "IF students IS NOT NULL THEN PERFORM koppel_verzuim_report(students); END IF;\n"
            "RETURN NULL;\nEND\n$fn$"
        )
    return statements + [
        "CREATE TRIGGER verzuim_absence_insert AFTER INSERT ON absence REFERENCING NEW TABLE AS verzuim_new "
        "FOR EACH STATEMENT EXECUTE FUNCTION verzuim_absence_insert()",
        "CREATE TRIGGER verzuim_absence_update AFTER UPDATE ON absence REFERENCING OLD TABLE AS verzuim_old "
        "NEW TABLE AS verzuim_new FOR EACH STATEMENT EXECUTE FUNCTION verzuim_absence_update()",
    ]


def postgresql_drop() -> list[str]:
    return [f"DROP TRIGGER IF EXISTS verzuim_absence_{op} ON absence" for op in ("insert", "update")] + [
        "DROP FUNCTION IF EXISTS verzuim_absence_insert()",
        "DROP FUNCTION IF EXISTS verzuim_absence_update()",
        "DROP FUNCTION IF EXISTS koppel_verzuim_report(text[])",
    ]


def install(connection: Connection) -> None:
    """Create (or re-create) the rule's triggers."""
    sqlite = connection.dialect.name == "sqlite"
    for statement in (sqlite_drop() + sqlite_ddl()) if sqlite else (postgresql_drop() + postgresql_ddl()):
        connection.exec_driver_sql(statement)


def remove(connection: Connection) -> None:
    """Drop the rule's triggers (downgrade; the benchmark measures their cost)."""
    for statement in sqlite_drop() if connection.dialect.name == "sqlite" else postgresql_drop():
        connection.exec_driver_sql(statement)
