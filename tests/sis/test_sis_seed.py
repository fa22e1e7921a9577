"""The synthetic college: valid numbers, every status, the 16-hours rule, determinism."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict

import pytest

from runtime.redact import elfproef
from runtime.sis.models import APPLICATION_STATUSES
from runtime.sis.schoolcalendar import school_day_number
from runtime.sis.seed import generate
from runtime.sis.seed.absence import HOLIDAYS, RULE_DAYS, RULE_HOURS, is_minor
from runtime.sis.seed.bulk import columns


@pytest.fixture(scope="module")
def college() -> dict[str, list[dict]]:
    rows = generate(600, 11)
    return {name: [dict(zip(columns(name), row)) for row in table] for name, table in rows.items()}


def test_same_seed_same_college_other_seed_other_college():
    assert generate(120, 3) == generate(120, 3)
    assert generate(120, 3)["person"] != generate(120, 4)["person"]


def test_every_bsn_passes_the_elfproef_and_no_onderwijsnummer_does(college):
    bsns = [p["bsn"] for p in college["person"] if p["bsn"]]
    onderwijsnummers = [p["onderwijsnummer"] for p in college["person"] if p["onderwijsnummer"]]
    assert len(bsns) > 500 and onderwijsnummers
    assert all(elfproef(b) for b in bsns)
    assert not any(elfproef(o) for o in onderwijsnummers)
    assert all(o.startswith("10") and len(o) == 9 for o in onderwijsnummers)
    assert len(set(bsns)) == len(bsns)
    assert all(bool(p["bsn"]) != bool(p["onderwijsnummer"]) for p in college["person"])


def test_codes_have_their_official_shapes(college):
    assert all(re.fullmatch(r"\d{5}", q["crebo"]) for q in college["qualification"])
    assert {q["level"] for q in college["qualification"]} == {1, 2, 3, 4}
    assert {p["leerweg"] for p in college["program"]} == {"BOL", "BBL"}
    assert all(re.fullmatch(r"\d{2}[A-Z]{2}", o["brin"]) for o in college["offering"])
    assert all(re.fullmatch(r"\d{3}X\d{3}", o["location_code"]) for o in college["offering"])
    assert all(re.fullmatch(r"\d{3}A\d{3}", o["onderwijsaanbieder_code"]) for o in college["offering"])
    assert all(re.fullmatch(r"\d{9}", c["sbb_code"]) for c in college["company"])
    assert all(re.fullmatch(r"\d{4} [A-Z]{2}", p["postal_code"]) for p in college["person"])
    assert {p["gender"] for p in college["person"]} == {"M", "V", "O"}
    assert any(p["tussenvoegsel"] for p in college["person"])


def test_applications_in_every_legal_status(college):
    assert {a["status"] for a in college["application"]} == set(APPLICATION_STATUSES)
    assert {a["channel"] for a in college["application"]} == {"centraal_aanmelden", "aanmeldmodule", "balie"}


def test_internships_are_at_companies_recognised_for_the_program(college):
    recognised = {(r["sbb_code"], r["crebo"]) for r in college["recognition"]}
    assert college["internship"]
    assert all((i["sbb_code"], i["crebo"]) in recognised for i in college["internship"])


def test_some_minors_cross_the_16_hours_rule_and_each_is_reported(college):
    birth = {}
    person_birth = {p["person_number"]: dt.date.fromisoformat(p["birth_date"]) for p in college["person"]}
    for s in college["student"]:
        birth[s["student_number"]] = person_birth[s["person_number"]]
    unauthorised = defaultdict(list)
    for a in college["absence"]:
        if not a["authorised"]:
            unauthorised[a["student_number"]].append((dt.date.fromisoformat(a["date"]), a["hours"]))
    reports = college["absence_report"]
    assert reports, "the seed should contain verzuim that crosses the rule"
    for report in reports:
        start, end = dt.date.fromisoformat(report["start_date"]), dt.date.fromisoformat(report["end_date"])
        assert school_day_number(end, HOLIDAYS) - school_day_number(start, HOLIDAYS) < RULE_DAYS
        hours = sum(h for d, h in unauthorised[report["student_number"]] if start <= d <= end)
        assert hours >= RULE_HOURS and hours == report["hours"]
        assert is_minor(birth[report["student_number"]], end)
    # and the other way round: every minor without startkwalificatie who crosses it is reported
    reported = {r["student_number"] for r in reports}
    startkwalificatie = {s["student_number"] for s in college["student"] if s["has_startkwalificatie"]}
    for student, entries in unauthorised.items():
        minor = [(d, h) for d, h in entries if is_minor(birth[student], d)]
        number = {d: school_day_number(d, HOLIDAYS) for d, _ in minor}
        crosses = any(
            sum(h for d, h in minor if 0 <= number[d] - number[first] < RULE_DAYS) >= RULE_HOURS
            for first, _ in minor
        )
        if crosses and student not in startkwalificatie:
            assert student in reported


def test_documents_to_sign_and_timetable(college):
    assert any(d["signing_status"] == "te_ondertekenen" for d in college["document"])
    assert {d["kind"] for d in college["document"]} >= {"onderwijsovereenkomst", "bpvo"}
    assert college["timetable_activity"]


def test_every_program_has_a_first_year_class_even_in_a_small_college():
    rows = generate(20, 2)
    groups = {g[0] for g in rows["group"]}
    assert all(f"{p[0]}-2026-A" in groups for p in rows["program"])


def test_seeding_a_store_fills_every_table_and_the_outbox(seeded):
    from runtime.sis.models import OBJECTS

    counts = {name: seeded.sql(f'SELECT count(*) FROM "{name}"')[0][0] for name in OBJECTS}
    # invoice lines come from Exact (interface 21), not from the SIS itself; withdrawals from DUO
    # only from deleting what was sent (runtime/sis/withdrawal.py), which a seed never does
    assert [n for n, c in counts.items() if not c] == ["duo_withdrawal", "invoice_line"]
    assert seeded.sql("SELECT count(*) FROM outbox WHERE op = 'insert'")[0][0] == sum(counts.values())
    bsns = [r[0] for r in seeded.sql("SELECT bsn FROM person WHERE bsn IS NOT NULL")]
    assert bsns and all(elfproef(b) for b in bsns)


def test_a_second_seed_is_refused(seeded):
    from runtime.errors import ConfigError
    from runtime.sis.seed import seed_store

    with pytest.raises(ConfigError, match="already holds"):
        seed_store(seeded.url, students=5, seed=1)
