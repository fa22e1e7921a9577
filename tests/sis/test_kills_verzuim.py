"""Mutants of runtime/sis/verzuim.py's trigger SQL that the rule's own tests cannot reach.

The store fixture copies a template made once per session, so the rule's DDL runs once, inside
the first test only; a mutation tool that maps each function to the tests that executed it then
tries a mutated trigger against that one test. Here the rule is installed inside the test, on a
fresh store of its own (SQLite and PostgreSQL), removed and installed again, and the scenarios
of test_sis_verzuim.py run against it: the 16 hours, the 28-day window, the 18th birthday,
authorised absence changed afterwards, several rows in one statement."""

from __future__ import annotations

import sqlalchemy as sa

from runtime.sis import verzuim

from . import test_sis_verzuim as rule


def _reinstall(store) -> None:  # noqa: ANN001
    engine = sa.create_engine(store.url)
    try:
        with engine.begin() as connection:
            verzuim.remove(connection)
            verzuim.install(connection)
    finally:
        engine.dispose()


def _empty(store) -> None:  # noqa: ANN001
    for table in ("absence_report", "absence", "student", "person"):
        store.sql(f"DELETE FROM {table}")


def test_the_rule_installed_afresh_makes_the_reports_the_scenarios_expect(store) -> None:
    _reinstall(store)
    rule.test_exactly_16_hours_in_one_school_week_is_one_report(store)
    rule.add_student(store, "S9")
    rule.absent_days(store, "S9", rule.WEEK_1[:3], hours=5)  # 15 hours
    assert rule.reports(store, "S9") == []


def test_the_window_and_the_birthday_with_the_rule_installed_afresh(store) -> None:
    _reinstall(store)
    for second_day, reported in (("2026-09-28", True), ("2026-09-29", False), ("2026-11-17", True)):
        _empty(store)
        rule.test_the_window_is_28_school_days(store, second_day, reported)


def test_the_birthday_with_the_rule_installed_afresh(store) -> None:
    _reinstall(store)
    rule.test_the_18th_birthday_counts_as_adult(store, "2026-09-10", False)
    _empty(store)
    rule.test_the_18th_birthday_counts_as_adult(store, "2026-09-09", True)


def test_updates_and_many_rows_with_the_rule_installed_afresh(store) -> None:
    _reinstall(store)
    rule.test_authorised_absence_does_not_count_until_it_is_changed(store)
    _empty(store)
    rule.test_one_statement_of_many_rows_reports_like_the_seed(store)


def test_changes_of_hours_and_deletes_with_the_rule_installed_afresh(store) -> None:
    _reinstall(store)
    rule.test_changing_deleting_and_reinserting_absence_does_not_report_a_period_twice(store)
    _empty(store)
    rule.test_hours_on_a_holiday_day_do_not_count(store)


def test_removing_the_rule_stops_the_reports(store) -> None:
    engine = sa.create_engine(store.url)
    try:
        with engine.begin() as connection:
            verzuim.remove(connection)
    finally:
        engine.dispose()
    rule.add_student(store, "S1")
    rule.absent_days(store, "S1", rule.WEEK_1)
    assert rule.reports(store) == []
    _reinstall(store)
    rule.absent(store, "late", "S1", "2026-09-08", 4)  # the next change reports what is there
    assert [r[0] for r in rule.reports(store)] == ["VZ-S1-2026-09-01"]


def test_a_hand_made_report_with_the_same_id_is_never_made_again_even_with_its_end_before_its_start(store) -> None:
    """An attendance officer's report VZ-S1-2026-09-01 whose end date was typed before its start:
    its period overlaps nothing, yet the crossing that starts that day has its id, so neither the
    triggers nor the Python twin (the seed) make it a second time."""
    rule.add_student(store, "S1")
    store.sql(
        "INSERT INTO absence_report (report_id, student_number, kind, start_date, end_date, hours, status) "
        "VALUES ('VZ-S1-2026-09-01', 'S1', ?, '2026-09-01', '2026-08-31', 16, 'gemeld')",
        (verzuim.KIND,),
    )
    rule.absent_days(store, "S1", rule.WEEK_1[:4])  # 16 hours from 1 September
    assert [(r[0], r[4], r[6]) for r in rule.reports(store, "S1")] == [("VZ-S1-2026-09-01", "2026-08-31", "gemeld")]
    entries = [(rule.D(d), 4.0, False) for d in rule.WEEK_1[:4]]
    existing = {"VZ-S1-2026-09-01": (rule.D("2026-09-01"), rule.D("2026-08-31"))}
    assert verzuim.apply_rule("S1", entries, rule.D(rule.MINOR_BIRTH), False, existing) == {}
