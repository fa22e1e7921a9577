"""The 16-hours-in-4-school-weeks rule lives in the SIS store: absence written with plain SQL, by
any client, makes the verzuimmelding the rule calls for (``runtime.sis.verzuim``), on both
engines, with the school calendar the migration entered (region zuid: herfstvakantie 2026 is
17-25 October)."""

from __future__ import annotations

import datetime as dt
import random
import threading

import pytest

from runtime.sis import schoolcalendar, verzuim

MINOR_BIRTH = "2010-03-01"
D = dt.date.fromisoformat


def store_holidays(store) -> list[schoolcalendar.Holiday]:
    return schoolcalendar.holidays_of(store.sql("SELECT start_date, end_date FROM school_holiday ORDER BY start_date"))


def twin(store, entries: list[tuple], birth: str = MINOR_BIRTH) -> list[tuple]:
    """What the Python twin reports for ``entries`` ((ISO day, hours, authorised)), as ``reports`` shows it."""
    found = verzuim.crossings([(D(d), h, a) for d, h, a in entries], D(birth), store_holidays(store))
    return [(s.isoformat(), e.isoformat(), h) for s, e, h in found]


def add_student(store, number: str, birth: str | None = MINOR_BIRTH, *, startkwalificatie: bool = False) -> None:
    person = "P" + number[1:]
    store.sql("INSERT INTO person (person_number, last_name, birth_date) VALUES (?, 'Test', ?)", (person, birth))
    store.sql(
        "INSERT INTO student (student_number, person_number, has_startkwalificatie) VALUES (?, ?, ?)",
        (number, person, startkwalificatie),
    )


def absent(store, absence_id: str, student: str, day: str, hours: float, authorised: bool = False) -> None:
    store.sql(
        "INSERT INTO absence (absence_id, student_number, date, hours, authorised, reason) VALUES (?, ?, ?, ?, ?, ?)",
        (absence_id, student, day, hours, authorised, "ziek" if authorised else "spijbelen"),
    )


def absent_days(store, student: str, days: list[str], hours: float = 4.0, prefix: str = "A") -> None:
    for i, day in enumerate(days):
        absent(store, f"{prefix}-{student}-{i}", student, day, hours)


def reports(store, student: str | None = None) -> list[tuple]:
    rows = store.sql(
        "SELECT report_id, student_number, kind, start_date, end_date, hours, status FROM absence_report "
        "WHERE CAST(? AS TEXT) IS NULL OR student_number = ? ORDER BY report_id",
        (student, student),
    )
    return [(r[0], r[1], r[2], str(r[3]), str(r[4]), r[5], r[6]) for r in rows]


WEEK_1 = ["2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04", "2026-09-07"]
WEEK_2 = ["2026-09-08", "2026-09-09", "2026-09-10", "2026-09-11", "2026-09-14"]


def test_exactly_16_hours_in_one_school_week_is_one_report(store) -> None:
    add_student(store, "S1")
    absent_days(store, "S1", WEEK_1[:3])  # 12 hours
    assert reports(store) == []
    absent_days(store, "S1", WEEK_1[3:4], prefix="B")  # 16 hours: DUO's "minimaal 16 uur"
    assert reports(store) == [
        ("VZ-S1-2026-09-01", "S1", "ongeoorloofd_16_uur", "2026-09-01", "2026-09-04", 16.0, "te_melden")
    ]
    absent(store, "C1", "S1", "2026-09-07", 4)  # the window was emptied: 4 new hours
    assert len(reports(store)) == 1


def test_15_hours_is_no_report(store) -> None:
    add_student(store, "S1")
    absent_days(store, "S1", WEEK_1[:3], hours=5)
    assert reports(store) == []
    assert twin(store, [(d, 5.0, False) for d in WEEK_1[:3]]) == []


# around the herfstvakantie of 2026 (17-25 October): school weeks of 5, 12, 26 October and 2 November
AROUND_HERFST = [("2026-10-05", 5.0), ("2026-10-12", 4.0), ("2026-10-26", 4.0), ("2026-11-06", 4.0)]


def test_17_hours_over_four_school_weeks_around_a_holiday_week_is_one_report(store) -> None:
    add_student(store, "S1")
    for i, (day, hours) in enumerate(AROUND_HERFST):
        absent(store, f"H{i}", "S1", day, hours)
    # 32 calendar days from first to last, but 23 school days: the holiday week does not count
    assert reports(store) == [
        ("VZ-S1-2026-10-05", "S1", "ongeoorloofd_16_uur", "2026-10-05", "2026-11-06", 17.0, "te_melden")
    ]
    assert twin(store, [(d, h, False) for d, h in AROUND_HERFST]) == [("2026-10-05", "2026-11-06", 17.0)]


def test_the_calendar_is_data_without_the_holiday_the_same_hours_span_five_weeks(store) -> None:
    store.sql("DELETE FROM school_holiday WHERE school_year = '2026-2027' AND name = 'herfstvakantie'")
    add_student(store, "S1")
    for i, (day, hours) in enumerate(AROUND_HERFST):
        absent(store, f"H{i}", "S1", day, hours)
    assert reports(store) == []
    assert twin(store, [(d, h, False) for d, h in AROUND_HERFST]) == []


def test_hours_on_a_holiday_day_do_not_count(store) -> None:
    add_student(store, "S1")
    absent_days(store, "S1", ["2026-10-19", "2026-10-20", "2026-10-21", "2026-10-22"], hours=5)
    assert reports(store) == []
    absent(store, "after", "S1", "2026-10-26", 4)
    assert reports(store) == []


def test_authorised_absence_never_counts(store) -> None:
    add_student(store, "S1")
    for i, day in enumerate(WEEK_1 + WEEK_2):
        absent(store, f"Z{i}", "S1", day, 8, authorised=True)
    store.sql("UPDATE absence SET hours = 9 WHERE absence_id = 'Z1'")
    assert reports(store) == []


@pytest.mark.parametrize(
    ("second_day", "reported"),
    [
        ("2026-09-28", True),  # 27 school days after 1 September: inside the 4 school weeks
        ("2026-09-29", False),  # 28: outside
        ("2026-11-17", True),  # from 12 October: 27 school days, the 9 holiday days left out
        ("2026-11-18", False),  # 28
    ],
)
def test_the_window_is_28_school_days(store, second_day: str, reported: bool) -> None:
    first_day = "2026-09-01" if second_day < "2026-10-01" else "2026-10-12"
    add_student(store, "S1")
    absent(store, "W1", "S1", first_day, 12)
    absent(store, "W2", "S1", second_day, 4)
    expected = [(first_day, second_day, 16.0)] if reported else []
    assert [(r[3], r[4], r[5]) for r in reports(store)] == expected
    assert twin(store, [(first_day, 12.0, False), (second_day, 4.0, False)]) == expected


@pytest.mark.parametrize(("fourth_day", "reported"), [("2026-09-09", True), ("2026-09-10", False)])
def test_the_18th_birthday_counts_as_adult(store, fourth_day: str, reported: bool) -> None:
    birth = "2008-09-10"  # 18 on 10 September 2026
    add_student(store, "S1", birth)
    days = ["2026-09-04", "2026-09-07", "2026-09-08", fourth_day]
    absent_days(store, "S1", days)
    expected = [("2026-09-04", fourth_day, 16.0)] if reported else []
    assert [(r[3], r[4], r[5]) for r in reports(store)] == expected
    assert twin(store, [(d, 4.0, False) for d in days], birth) == expected


def test_luxe_and_langdurig_verzuim_can_be_recorded_and_other_kinds_cannot(store) -> None:
    add_student(store, "S1")
    for kind in ("luxe", "langdurig"):
        store.sql(
            "INSERT INTO absence_report (report_id, student_number, kind, start_date, end_date) "
            "VALUES (?, 'S1', ?, '2026-10-12', '2026-10-16')", (f"VZ-S1-{kind}", kind),
        )
    assert [(r[0], r[2]) for r in reports(store)] == [("VZ-S1-langdurig", "langdurig"), ("VZ-S1-luxe", "luxe")]
    with pytest.raises(Exception, match="(?i)check"):
        store.sql("INSERT INTO absence_report (report_id, student_number, kind, start_date) "
                  "VALUES ('X', 'S1', 'vakantie', '2026-10-12')")


def test_adults_and_students_with_a_startkwalificatie_are_not_reported(store) -> None:
    add_student(store, "S1", "2000-05-05")
    add_student(store, "S2", startkwalificatie=True)
    add_student(store, "S3", None)  # no birth date: the store cannot tell
    add_student(store, "S4", "2008-09-03")  # turns 18 on 3 September: only 1 and 2 September count
    for student in ("S1", "S2", "S3", "S4"):
        absent_days(store, student, WEEK_1 + WEEK_2)
    assert reports(store) == []


def test_authorised_absence_does_not_count_until_it_is_changed(store) -> None:
    add_student(store, "S1")
    absent_days(store, "S1", WEEK_1[:3], hours=4)
    for i, day in enumerate(WEEK_1[3:]):
        absent(store, f"Z{i}", "S1", day, 4, authorised=True)
    assert reports(store) == []
    store.sql("UPDATE absence SET authorised = ? WHERE absence_id = 'Z1'", (False,))  # no doctor's note after all
    assert [r[0] for r in reports(store)] == ["VZ-S1-2026-09-01"]


def test_a_second_crossing_in_a_new_period_is_a_second_report(store) -> None:
    add_student(store, "S1")
    absent_days(store, "S1", WEEK_1 + WEEK_2)
    assert [(r[0], r[3], r[4], r[5]) for r in reports(store)] == [
        ("VZ-S1-2026-09-01", "2026-09-01", "2026-09-04", 16.0),
        ("VZ-S1-2026-09-07", "2026-09-07", "2026-09-10", 16.0),
    ]


def test_changing_deleting_and_reinserting_absence_does_not_report_a_period_twice(store) -> None:
    add_student(store, "S1")
    absent_days(store, "S1", WEEK_1)
    first = reports(store)
    assert len(first) == 1
    store.sql("UPDATE absence SET hours = 5 WHERE absence_id = 'A-S1-2'")
    store.sql("DELETE FROM absence WHERE absence_id = 'A-S1-4'")
    absent(store, "A-S1-4", "S1", "2026-09-07", 4)
    absent(store, "late", "S1", "2026-08-31", 3)  # recorded late: the window now starts a day earlier
    store.sql("UPDATE absence SET authorised = ? WHERE absence_id = 'A-S1-0'", (True,))
    store.sql("UPDATE absence SET authorised = ? WHERE absence_id = 'A-S1-0'", (False,))
    assert reports(store) == first
    # a report already sent stays as it is
    store.sql("UPDATE absence_report SET status = 'gemeld' WHERE report_id = 'VZ-S1-2026-09-01'")
    absent(store, "again", "S1", "2026-09-03", 2)
    assert [r[6] for r in reports(store)] == ["gemeld"]


def test_the_report_reaches_the_outbox(store) -> None:
    add_student(store, "S1")
    absent_days(store, "S1", WEEK_1)
    rows = store.sql("SELECT op FROM outbox WHERE object = 'absence_report' AND key = 'VZ-S1-2026-09-01'")
    assert rows == [("insert",)]


def test_one_statement_of_many_rows_reports_like_the_seed(store) -> None:
    add_student(store, "S1")
    rng = random.Random(3)
    days = sorted(rng.sample(range(60), 30))
    rows = [(f"M{i}", "S1", (dt.date(2026, 9, 1) + dt.timedelta(days=d)).isoformat(), float(rng.randint(1, 6)),
             rng.random() < 0.2) for i, d in enumerate(days)]
    placeholders = ", ".join(["(?, ?, ?, ?, ?)"] * len(rows))
    store.sql(f"INSERT INTO absence (absence_id, student_number, date, hours, authorised) VALUES {placeholders}",
              tuple(v for row in rows for v in row))
    entries = [(dt.date.fromisoformat(r[2]), r[3], r[4]) for r in rows]
    expected = [
        (verzuim.report_id("S1", s), s.isoformat(), e.isoformat(), h)
        for s, e, h in verzuim.crossings(entries, dt.date.fromisoformat(MINOR_BIRTH), store_holidays(store))
    ]
    assert expected, "the pattern should cross the rule"
    assert [(r[0], r[3], r[4], r[5]) for r in reports(store)] == expected


@pytest.mark.postgres
def test_two_clients_at_once_see_each_others_hours(store) -> None:
    if store.engine_name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    add_student(store, "S1")
    absent_days(store, "S1", WEEK_1[:2], hours=5)  # 10 hours
    first, second = store.connect(), store.connect()
    try:
        first.autocommit = second.autocommit = False
        first.execute("INSERT INTO absence (absence_id, student_number, date, hours) VALUES ('T1', 'S1', '2026-09-03', 4)")
        done = threading.Event()

        def other_client() -> None:
            second.execute("INSERT INTO absence (absence_id, student_number, date, hours) VALUES ('T2', 'S1', '2026-09-04', 4)")
            second.commit()
            done.set()

        thread = threading.Thread(target=other_client)
        thread.start()
        assert not done.wait(0.5), "the second client should wait for the first"
        first.commit()
        thread.join(10)
        assert done.is_set()
    finally:
        first.close()
        second.close()
    # alone each had 14 hours; together 18: the second saw the first's and reported
    assert [(r[0], r[4], r[5]) for r in reports(store)] == [("VZ-S1-2026-09-01", "2026-09-04", 18.0)]


def test_the_seeded_college_gets_no_report_the_seed_did_not_make(seeded) -> None:
    from runtime.sis.seed import generate

    from .conftest import SEED, SEED_STUDENTS

    expected = sorted(r[0] for r in generate(SEED_STUDENTS, SEED)["absence_report"])
    assert expected and [r[0] for r in reports(seeded)] == expected


# --- the triggers and the Python twin agree -----------------------------------------------

STUDENTS = {  # number → (birth date, startkwalificatie)
    "S1": ("2010-05-05", False),
    "S2": ("2008-10-01", False),  # turns 18 halfway
    "S3": ("2008-02-29", False),  # 18 on 1 March 2026: an adult throughout
    "S4": ("2009-12-31", False),
    "S5": ("2010-01-01", True),
    "S6": (None, False),
}


# Days the generator favours: pairs 27, 28 and 29 school days apart (with and without the
# herfstvakantie between them), holiday days, and the 18th birthday of S2 (1 October 2026), so
# that a mutation of the window (>= / >, 28 / 27 / 29) or of the age moves a report.
BOUNDARY_DAYS = [D(d) for d in (
    "2026-09-01", "2026-09-28", "2026-09-29", "2026-09-30", "2026-10-12", "2026-11-17", "2026-11-18",
    "2026-11-19", "2026-10-19", "2026-10-23", "2026-09-30", "2026-10-01", "2026-10-16", "2026-10-26",
)]


def test_the_triggers_and_the_python_rule_agree_on_random_absence(store) -> None:
    rng = random.Random(16)
    holidays = store_holidays(store)
    for number, (birth, startkwalificatie) in STUDENTS.items():
        add_student(store, number, birth, startkwalificatie=startkwalificatie)
    rows: dict[str, tuple[str, dt.date, float, bool]] = {}
    twin: dict[str, tuple[str, dt.date, dt.date, float]] = {}
    connection = store.connect()
    placeholder = "?" if store.engine_name == "sqlite" else "%s"

    def execute(statement: str, params: tuple) -> None:
        connection.execute(statement.replace("?", placeholder), params)

    def evaluate(student: str) -> None:
        birth, startkwalificatie = STUDENTS[student]
        existing = {i: (r[1], r[2]) for i, r in twin.items() if r[0] == student}
        entries = [(day, hours, authorised) for s, day, hours, authorised in rows.values() if s == student]
        made = verzuim.apply_rule(
            student, entries, birth and dt.date.fromisoformat(birth), startkwalificatie, existing, holidays
        )
        twin.update({i: (student, *c) for i, c in made.items()})

    def random_row() -> tuple[str, dt.date, float, bool]:
        if rng.random() < 0.5:
            # a boundary day, mostly for S1 (a minor throughout): pairs of them must meet in one
            # student's window for a boundary mutation to change a report
            day = rng.choice(BOUNDARY_DAYS)
            student = "S1" if rng.random() < 0.6 else rng.choice(list(STUDENTS))
        else:
            day = dt.date(2026, 8, 31) + dt.timedelta(days=rng.randrange(80))
            student = rng.choice(list(STUDENTS))
        # whole multiples of 4 hours half the time: totals land on exactly 16
        hours = rng.choice((4.0, 8.0, 12.0)) if rng.random() < 0.5 else rng.randint(1, 16) / 2
        return student, day, hours, rng.random() < 0.2

    try:
        for step in range(360):
            action = rng.random()
            if action < 0.6 or not rows:
                absence_id, row = f"R{step}", random_row()
                execute("INSERT INTO absence (absence_id, student_number, date, hours, authorised) VALUES (?, ?, ?, ?, ?)",
                        (absence_id, row[0], row[1].isoformat(), row[2], row[3]))
                rows[absence_id] = row
                if not row[3]:
                    evaluate(row[0])
            elif action < 0.85:
                absence_id = rng.choice(sorted(rows))
                old = rows[absence_id]
                new = list(old)
                field = rng.randrange(4)
                new[field] = random_row()[field]
                new = tuple(new)
                execute("UPDATE absence SET student_number = ?, date = ?, hours = ?, authorised = ? WHERE absence_id = ?",
                        (new[0], new[1].isoformat(), new[2], new[3], absence_id))
                rows[absence_id] = new
                if not new[3] and new != old:
                    evaluate(new[0])
            else:
                absence_id = rng.choice(sorted(rows))
                execute("DELETE FROM absence WHERE absence_id = ?", (absence_id,))
                del rows[absence_id]
    finally:
        connection.close()
    made = [(r[0], r[1], r[3], r[4], r[5]) for r in reports(store)]
    expected = sorted((i, s, a.isoformat(), b.isoformat(), h) for i, (s, a, b, h) in twin.items())
    assert len(expected) >= 5, "the random pattern should cross the rule several times"
    assert made == expected
